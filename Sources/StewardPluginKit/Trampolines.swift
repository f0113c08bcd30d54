import StewardABI

/// The C functions the host calls. A step function gets only the call and the result, no
/// pointer to its own `stw_step`, so each declared step is bound to one of these by position
/// (slot); each trampoline passes its slot on to `Dispatch`. Adapters likewise.
enum Trampolines {
    static let steps: [stw_step_fn] = [
        { Dispatch.step(0, $0, $1) }, { Dispatch.step(1, $0, $1) }, { Dispatch.step(2, $0, $1) }, { Dispatch.step(3, $0, $1) },
        { Dispatch.step(4, $0, $1) }, { Dispatch.step(5, $0, $1) }, { Dispatch.step(6, $0, $1) }, { Dispatch.step(7, $0, $1) },
        { Dispatch.step(8, $0, $1) }, { Dispatch.step(9, $0, $1) }, { Dispatch.step(10, $0, $1) }, { Dispatch.step(11, $0, $1) },
        { Dispatch.step(12, $0, $1) }, { Dispatch.step(13, $0, $1) }, { Dispatch.step(14, $0, $1) }, { Dispatch.step(15, $0, $1) },
        { Dispatch.step(16, $0, $1) }, { Dispatch.step(17, $0, $1) }, { Dispatch.step(18, $0, $1) }, { Dispatch.step(19, $0, $1) },
        { Dispatch.step(20, $0, $1) }, { Dispatch.step(21, $0, $1) }, { Dispatch.step(22, $0, $1) }, { Dispatch.step(23, $0, $1) },
        { Dispatch.step(24, $0, $1) }, { Dispatch.step(25, $0, $1) }, { Dispatch.step(26, $0, $1) }, { Dispatch.step(27, $0, $1) },
        { Dispatch.step(28, $0, $1) }, { Dispatch.step(29, $0, $1) }, { Dispatch.step(30, $0, $1) }, { Dispatch.step(31, $0, $1) },
        { Dispatch.step(32, $0, $1) }, { Dispatch.step(33, $0, $1) }, { Dispatch.step(34, $0, $1) }, { Dispatch.step(35, $0, $1) },
        { Dispatch.step(36, $0, $1) }, { Dispatch.step(37, $0, $1) }, { Dispatch.step(38, $0, $1) }, { Dispatch.step(39, $0, $1) },
        { Dispatch.step(40, $0, $1) }, { Dispatch.step(41, $0, $1) }, { Dispatch.step(42, $0, $1) }, { Dispatch.step(43, $0, $1) },
        { Dispatch.step(44, $0, $1) }, { Dispatch.step(45, $0, $1) }, { Dispatch.step(46, $0, $1) }, { Dispatch.step(47, $0, $1) },
        { Dispatch.step(48, $0, $1) }, { Dispatch.step(49, $0, $1) }, { Dispatch.step(50, $0, $1) }, { Dispatch.step(51, $0, $1) },
        { Dispatch.step(52, $0, $1) }, { Dispatch.step(53, $0, $1) }, { Dispatch.step(54, $0, $1) }, { Dispatch.step(55, $0, $1) },
        { Dispatch.step(56, $0, $1) }, { Dispatch.step(57, $0, $1) }, { Dispatch.step(58, $0, $1) }, { Dispatch.step(59, $0, $1) },
        { Dispatch.step(60, $0, $1) }, { Dispatch.step(61, $0, $1) }, { Dispatch.step(62, $0, $1) }, { Dispatch.step(63, $0, $1) },
    ]

    static let adapters: [stw_adapter_fn] = [
        { Dispatch.adapter(0, $0, $1) }, { Dispatch.adapter(1, $0, $1) }, { Dispatch.adapter(2, $0, $1) }, { Dispatch.adapter(3, $0, $1) },
        { Dispatch.adapter(4, $0, $1) }, { Dispatch.adapter(5, $0, $1) }, { Dispatch.adapter(6, $0, $1) }, { Dispatch.adapter(7, $0, $1) },
        { Dispatch.adapter(8, $0, $1) }, { Dispatch.adapter(9, $0, $1) }, { Dispatch.adapter(10, $0, $1) }, { Dispatch.adapter(11, $0, $1) },
        { Dispatch.adapter(12, $0, $1) }, { Dispatch.adapter(13, $0, $1) }, { Dispatch.adapter(14, $0, $1) }, { Dispatch.adapter(15, $0, $1) },
        { Dispatch.adapter(16, $0, $1) }, { Dispatch.adapter(17, $0, $1) }, { Dispatch.adapter(18, $0, $1) }, { Dispatch.adapter(19, $0, $1) },
        { Dispatch.adapter(20, $0, $1) }, { Dispatch.adapter(21, $0, $1) }, { Dispatch.adapter(22, $0, $1) }, { Dispatch.adapter(23, $0, $1) },
        { Dispatch.adapter(24, $0, $1) }, { Dispatch.adapter(25, $0, $1) }, { Dispatch.adapter(26, $0, $1) }, { Dispatch.adapter(27, $0, $1) },
        { Dispatch.adapter(28, $0, $1) }, { Dispatch.adapter(29, $0, $1) }, { Dispatch.adapter(30, $0, $1) }, { Dispatch.adapter(31, $0, $1) },
        { Dispatch.adapter(32, $0, $1) }, { Dispatch.adapter(33, $0, $1) }, { Dispatch.adapter(34, $0, $1) }, { Dispatch.adapter(35, $0, $1) },
        { Dispatch.adapter(36, $0, $1) }, { Dispatch.adapter(37, $0, $1) }, { Dispatch.adapter(38, $0, $1) }, { Dispatch.adapter(39, $0, $1) },
        { Dispatch.adapter(40, $0, $1) }, { Dispatch.adapter(41, $0, $1) }, { Dispatch.adapter(42, $0, $1) }, { Dispatch.adapter(43, $0, $1) },
        { Dispatch.adapter(44, $0, $1) }, { Dispatch.adapter(45, $0, $1) }, { Dispatch.adapter(46, $0, $1) }, { Dispatch.adapter(47, $0, $1) },
        { Dispatch.adapter(48, $0, $1) }, { Dispatch.adapter(49, $0, $1) }, { Dispatch.adapter(50, $0, $1) }, { Dispatch.adapter(51, $0, $1) },
        { Dispatch.adapter(52, $0, $1) }, { Dispatch.adapter(53, $0, $1) }, { Dispatch.adapter(54, $0, $1) }, { Dispatch.adapter(55, $0, $1) },
        { Dispatch.adapter(56, $0, $1) }, { Dispatch.adapter(57, $0, $1) }, { Dispatch.adapter(58, $0, $1) }, { Dispatch.adapter(59, $0, $1) },
        { Dispatch.adapter(60, $0, $1) }, { Dispatch.adapter(61, $0, $1) }, { Dispatch.adapter(62, $0, $1) }, { Dispatch.adapter(63, $0, $1) },
    ]
}
