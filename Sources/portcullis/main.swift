import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Swift Concurrency runs on NIO's event loops: a request's handler then runs on the thread that read
// it, without a hop between NIO's threads and the concurrency pool on every request (measured: that
// hop was a large part of a request's cost). Must happen on the main thread, before any task runs.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

// Without TZ, glibc checks /etc/localtime on every local-time conversion (each log line); naming the
// file reads it once. Times in logs are unchanged.
if getenv("TZ") == nil, access("/etc/localtime", R_OK) == 0 {
    setenv("TZ", ":/etc/localtime", 0)
}
await Portcullis.runAsRoot()
