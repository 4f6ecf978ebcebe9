#if canImport(Glibc)
import Glibc
#endif

/// A set of texts that finds a row's text by its UTF-8 bytes as SQLite holds them, without making a
/// `String` of it: a pass over 100,000 users asks it once per row, and most rows are not in it (with
/// a `Set<String>`, making and hashing each row's `String` was most of the pass).
struct TextKeySet {
    /// The texts, by index.
    let keys: [String]
    private var bytes: [UInt8] = []
    private var bounds: [Range<Int>] = []
    /// Open addressing: the index of the key in each slot, or -1.
    private var slots: [Int32]
    private var hashes: [UInt64]
    private let mask: Int

    init(_ texts: some Collection<String>) {
        keys = Array(texts)
        var capacity = 16
        while capacity < keys.count * 2 { capacity *= 2 }
        mask = capacity - 1
        slots = Array(repeating: -1, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        for (index, key) in keys.enumerated() {
            let start = bytes.count
            bytes.append(contentsOf: key.utf8)
            bounds.append(start..<bytes.count)
            let hash = bytes.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
            hashes[slot] = hash
        }
    }

    /// The index in `keys` of the text with these bytes, or nil.
    func index(of candidate: UnsafeRawBufferPointer) -> Int? {
        let hash = Self.hash(candidate)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 {
            let index = Int(slots[slot])
            if hashes[slot] == hash, bounds[index].count == candidate.count,
                bytes.withUnsafeBytes({ candidate.count == 0 || memcmp($0.baseAddress! + bounds[index].lowerBound, candidate.baseAddress!, candidate.count) == 0 })
            {
                return index
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The index in `keys` of this text, or nil.
    func index(of text: String) -> Int? {
        var text = text
        return text.withUTF8 { index(of: UnsafeRawBufferPointer($0)) }
    }

    /// Eight bytes at a time, then the rest, and a final mix (MurmurHash3's): ids are short, and the
    /// texts asked about come from the database.
    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
            hash ^= hash >> 32
            offset += 8
        }
        while offset < bytes.count {
            hash = (hash ^ UInt64(bytes[offset])) &* 0x100_0000_01b3
            offset += 1
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
