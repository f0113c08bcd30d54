#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The output size limit of plugin calls, enforced host-side before any byte is read.
///
/// A call runs under a per-call `OutputBudget` bound to the calling thread: while it runs,
/// the host table's `alloc` refuses (returns NULL) any block larger than the budget's limit
/// and remembers the size it refused, so a plugin that tries to hand back 200 MB fails at the
/// allocation rather than after the host has read it. After the call, `checkedOutput` checks
/// the claimed `output_length` against the limit and against the block really allocated, so a
/// plugin that claims a huge length in a small buffer is refused without reading out of bounds.
/// The ABI structs are unchanged: the limit never crosses the boundary.
public enum OutputLimit {
    /// The global limit when the engine sets none: 16 MiB.
    public static let defaultBytes = 16 << 20

    /// One call's budget, in a slot of the calling thread's own: read by `alloc` on that
    /// thread. A plain struct behind a pointer, so the hot path takes no lock, makes no heap
    /// allocation and touches no reference count.
    struct Slot {
        /// Whether a call is running under this slot (false outside a call, e.g. when a
        /// plugin allocates from a thread of its own: then `alloc` is unbounded, and the checks
        /// after the call still refuse an oversized output).
        var active = false
        /// The largest block `alloc` hands out and the largest output accepted, in bytes.
        var limit = 0
        /// The largest request `alloc` refused during the call (-1: none).
        var refused = -1
        /// The ledger of an observed call (`steward plugins validate`), kept alive by the
        /// caller of `withBudget`; nil on the engine's calls.
        var ledger: Unmanaged<MemoryLedger>?
    }

    /// The current call's budget as `refusal` and the validator read it.
    struct Budget {
        let slot: UnsafeMutablePointer<Slot>
        var limit: Int { slot.pointee.limit }
        var refused: Int? { slot.pointee.refused >= 0 ? slot.pointee.refused : nil }
        var ledger: MemoryLedger? { slot.pointee.ledger?.takeUnretainedValue() }
    }

    /// The host-table memory of one observed call: which blocks `alloc` handed out and are
    /// still live, which `free` took back, and the `free`s of blocks that were not live (a
    /// block the call did not allocate, or one freed twice), which are not passed on to the
    /// C library. Used only on the calling thread, for the length of the call.
    final class MemoryLedger {
        var live: Set<UInt> = []
        var freed: Set<UInt> = []
        var allocations = 0
        var frees = 0
        var foreignFrees = 0
    }

    /// Each thread's slot, allocated on the thread's first call and freed when it exits.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { slot in
            guard let slot else { return }
            let typed = slot.assumingMemoryBound(to: Slot.self)
            typed.deinitialize(count: 1)
            typed.deallocate()
        }
        return key
    }()

    private static func threadSlot() -> UnsafeMutablePointer<Slot> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: Slot.self) }
        let slot = UnsafeMutablePointer<Slot>.allocate(capacity: 1)
        slot.initialize(to: Slot())
        pthread_setspecific(key, slot)
        return slot
    }

    /// Runs `body` (the plugin call) with a budget of `limit` bytes bound to this thread. A
    /// call nested in another on the same thread gets its own budget; the outer one is
    /// restored after it.
    static func withBudget<T>(limit: Int, ledger: MemoryLedger? = nil, _ body: (Budget) -> T) -> T {
        let slot = threadSlot()
        let outer = slot.pointee
        slot.pointee = Slot(active: true, limit: max(limit, 1), refused: -1, ledger: ledger.map { Unmanaged.passUnretained($0) })
        defer { slot.pointee = outer }
        return withExtendedLifetime(ledger) { body(Budget(slot: slot)) }
    }

    /// The slot of the call running on this thread, if any.
    private static var activeSlot: UnsafeMutablePointer<Slot>? {
        guard let raw = pthread_getspecific(key) else { return nil }
        let slot = raw.assumingMemoryBound(to: Slot.self)
        return slot.pointee.active ? slot : nil
    }

    /// The host table's `alloc`: refuses blocks over the current call's limit.
    static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if let slot = activeSlot {
            if size > slot.pointee.limit {
                slot.pointee.refused = max(slot.pointee.refused, size)
                return nil
            }
            if let ledger = slot.pointee.ledger?.takeUnretainedValue() {
                let block = malloc(size)
                if let block {
                    ledger.allocations += 1
                    ledger.live.insert(UInt(bitPattern: block))
                }
                return block
            }
        }
        return malloc(size)
    }

    /// The host table's `free`. During an observed call it frees only blocks the call
    /// allocated and has not freed, counting the others instead of corrupting the heap.
    static func release(_ block: UnsafeMutableRawPointer?) {
        guard let block else { return }
        if let ledger = activeSlot?.pointee.ledger?.takeUnretainedValue() {
            let address = UInt(bitPattern: block)
            guard ledger.live.remove(address) != nil else {
                ledger.foreignFrees += 1
                return
            }
            ledger.frees += 1
            ledger.freed.insert(address)
        }
        free(block)
    }

    /// Why a call's output must not be read, or nil when `length` bytes at `block` may be read:
    /// the host refused an allocation over the limit, the claimed length is over the limit, or
    /// it is larger than the block `alloc` handed out.
    /// - Parameter block: the output pointer the plugin stored; it must come from the host's
    ///   `alloc` (the ABI requires it, and the host frees it with `free`).
    static func refusal(block: UnsafeMutableRawPointer?, length: Int, budget: Budget) -> String? {
        if let refused = budget.refused {
            return "output of \(refused) bytes exceeds the limit of \(budget.limit) bytes (the host refused to allocate it)"
        }
        guard let block else { return nil }
        if length > budget.limit {
            return "output of \(length) bytes exceeds the limit of \(budget.limit) bytes (not read)"
        }
        let allocated = allocatedSize(block)
        if length > allocated {
            return "output_length \(length) is larger than its buffer of \(allocated) bytes (not read)"
        }
        return nil
    }

    /// The usable size of a block from `malloc` (at least what was asked for).
    static func allocatedSize(_ block: UnsafeMutableRawPointer) -> Int {
        usableSize(block)
    }

    /// glibc's `malloc_usable_size` (Darwin's `malloc_size`), looked up once: Swift's Glibc
    /// module does not import `<malloc.h>`.
    private static let usableSize: @convention(c) (UnsafeMutableRawPointer?) -> Int = {
        #if canImport(Glibc)
        let (name, everywhere) = ("malloc_usable_size", UnsafeMutableRawPointer(bitPattern: 0))  // RTLD_DEFAULT
        #else
        let (name, everywhere) = ("malloc_size", UnsafeMutableRawPointer(bitPattern: -2))  // RTLD_DEFAULT
        #endif
        guard let symbol = dlsym(everywhere, name) else {
            fatalError("the C library has no \(name)")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutableRawPointer?) -> Int).self)
    }()
}
