#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call: these wrap the calls Portcullis makes.

// Turns off SQLite's memory statistics. With them on, every allocation takes one process-wide
// mutex, and two threads reading at once wait on each other for it (measured: a tenth of the
// CPU of SCIM lookups on two cores). Must run before SQLite is initialized (any other call).
static inline int portcullis_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
