import CFFI
import StewardJSON
import StewardPlugins
import StewardTemplates

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a foreign function could not be prepared.
public struct ForeignLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A readable explanation naming the library and symbol.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// An exported C function prepared for calls through libffi. The call interface is built
/// once, at load; each call only converts arguments and invokes.
///
/// The cif and its type array live as long as this object, which the engine keeps for the
/// life of the process; the library is never unloaded.
public final class ForeignFunction: Sendable {
    /// The signature it was prepared for.
    public let signature: ForeignSignature
    /// The library file.
    public let path: String
    /// The step name the executor dispatches on.
    public let stepName: String

    private let function: Storage

    /// Raw storage for libffi's structures.
    // @unchecked Sendable: the cif and type array are written only in `init` and read-only
    // afterwards; libffi's ffi_call does not modify the cif, so concurrent calls are safe.
    private final class Storage: @unchecked Sendable {
        let cif: UnsafeMutablePointer<ffi_cif>
        let types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
        let address: UnsafeMutableRawPointer

        init(cif: UnsafeMutablePointer<ffi_cif>, types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>, address: UnsafeMutableRawPointer) {
            self.cif = cif
            self.types = types
            self.address = address
        }

        deinit {
            cif.deallocate()
            types.deallocate()
        }
    }

    /// Opens `path`, resolves the signature's symbol — refusing one the library does not define
    /// itself (found in a dependency, such as libc) — and prepares the call interface.
    public init(path: String, signature: ForeignSignature, stepName: String) throws(ForeignLoadError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw ForeignLoadError("cannot load library \(path): \(dlerror().map { String(cString: $0) } ?? "unknown error")")
        }
        guard let address = dlsym(handle, signature.name) else {
            throw ForeignLoadError("library \(path) does not export '\(signature.name)'")
        }
        // dlsym also searches the library's dependencies: `system` "in" any library is libc's.
        // Only a symbol the library defines itself may be called.
        let definer = SymbolOwner.file(defining: address).flatMap(ForeignLibraries.realPath)
        guard definer == ForeignLibraries.realPath(path) else {
            throw ForeignLoadError(
                "library \(path) does not define '\(signature.name)' itself (it resolves to \(definer ?? "another library")); only its own symbols may be called")
        }
        let count = signature.arguments.count
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: max(count, 1))
        for (index, type) in signature.arguments.enumerated() { types[index] = Self.ffiType(type) }
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        let status = stw_ffi_prep_cif(cif, UInt32(count), Self.ffiType(signature.returnType), types)
        guard status == FFI_OK else {
            cif.deallocate()
            types.deallocate()
            throw ForeignLoadError("libffi cannot prepare a call to \(signature) (status \(status.rawValue))")
        }
        self.signature = signature
        self.path = path
        self.stepName = stepName
        self.function = Storage(cif: cif, types: types, address: address)
    }

    static func ffiType(_ type: ForeignType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .void: return stw_ffi_type_void()
        case .bool, .uint8: return stw_ffi_type_uint8()
        case .int8: return stw_ffi_type_sint8()
        case .int16: return stw_ffi_type_sint16()
        case .uint16: return stw_ffi_type_uint16()
        case .int32: return stw_ffi_type_sint32()
        case .uint32: return stw_ffi_type_uint32()
        case .int64: return stw_ffi_type_sint64()
        case .uint64: return stw_ffi_type_uint64()
        case .float: return stw_ffi_type_float()
        case .double: return stw_ffi_type_double()
        case .string: return stw_ffi_type_pointer()
        }
    }

    /// Calls the function with `arguments` (a JSON array, one value per parameter), checking
    /// each value against its C type. Returns the result as JSON. A returned string longer than
    /// `maxOutputBytes` fails as `invalidOutput` (its length is measured with `strnlen`, so no
    /// byte past the limit is read).
    public func call(_ arguments: JSONValue, maxOutputBytes: Int = OutputLimit.defaultBytes) throws(StepCallError) -> JSONValue {
        guard let values = arguments.arrayValue, values.count == signature.arguments.count else {
            throw StepCallError(step: stepName, kind: .invalidInput, message: "\(signature.name) takes \(signature.arguments.count) argument(s)")
        }
        // One 8-byte slot per scalar argument; strings are copied into C strings that live
        // until the call returns.
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(values.count, 1))
        let pointers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: max(values.count, 1))
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer {
            slots.deallocate()
            pointers.deallocate()
            for string in strings { free(string) }
        }
        for (index, type) in signature.arguments.enumerated() {
            let slot = UnsafeMutableRawPointer(slots + index)
            try store(values[index], as: type, into: slot, index: index, strings: &strings)
            pointers[index] = slot
        }
        // The return buffer must be at least sizeof(ffi_arg).
        var result: (UInt64, UInt64) = (0, 0)
        return try withUnsafeMutableBytes(of: &result) { (buffer) throws(StepCallError) -> JSONValue in
            ffi_call(function.cif, unsafeBitCast(function.address, to: (@convention(c) () -> Void).self), buffer.baseAddress, pointers)
            return try decode(buffer.baseAddress!, maxOutputBytes: maxOutputBytes)
        }
    }

    private func store(
        _ value: JSONValue, as type: ForeignType, into slot: UnsafeMutableRawPointer, index: Int,
        strings: inout [UnsafeMutablePointer<CChar>]
    ) throws(StepCallError) {
        func mismatch(_ expected: String) -> StepCallError {
            StepCallError(
                step: stepName, kind: .invalidInput,
                message: "argument \(index + 1) of \(signature.name) must be \(expected) (\(type.cName)), found \(value.typeName) \(value.jsonString.prefix(40))")
        }
        func integer<T: FixedWidthInteger>(_: T.Type) throws(StepCallError) -> T {
            guard let whole = value.integerValue, let fitted = T(exactly: whole) else { throw mismatch("an integer in \(T.min)...\(T.max)") }
            return fitted
        }
        switch type {
        case .void: break
        case .bool:
            guard let flag = value.boolValue else { throw mismatch("a boolean") }
            slot.storeBytes(of: flag ? UInt8(1) : 0, as: UInt8.self)
        case .int8: slot.storeBytes(of: try integer(Int8.self), as: Int8.self)
        case .int16: slot.storeBytes(of: try integer(Int16.self), as: Int16.self)
        case .int32: slot.storeBytes(of: try integer(Int32.self), as: Int32.self)
        case .int64: slot.storeBytes(of: try integer(Int64.self), as: Int64.self)
        case .uint8: slot.storeBytes(of: try integer(UInt8.self), as: UInt8.self)
        case .uint16: slot.storeBytes(of: try integer(UInt16.self), as: UInt16.self)
        case .uint32: slot.storeBytes(of: try integer(UInt32.self), as: UInt32.self)
        case .uint64: slot.storeBytes(of: try integer(UInt64.self), as: UInt64.self)
        case .float:
            guard let number = value.doubleValue else { throw mismatch("a number") }
            slot.storeBytes(of: Float(number), as: Float.self)
        case .double:
            guard let number = value.doubleValue else { throw mismatch("a number") }
            slot.storeBytes(of: number, as: Double.self)
        case .string:
            guard let text = value.stringValue else { throw mismatch("a string") }
            guard !text.utf8.contains(0) else { throw mismatch("a string without NUL characters") }
            let copy = strdup(text)!
            strings.append(copy)
            slot.storeBytes(of: UnsafeRawPointer(copy), as: UnsafeRawPointer.self)
        }
    }

    private func decode(_ buffer: UnsafeMutableRawPointer, maxOutputBytes: Int) throws(StepCallError) -> JSONValue {
        // libffi widens integral returns smaller than a register to ffi_arg; read the low bytes.
        switch signature.returnType {
        case .void: return .null
        case .bool: return .bool(buffer.load(as: UInt8.self) != 0)
        case .int8: return .integer(Int64(Int8(truncatingIfNeeded: buffer.load(as: Int64.self))))
        case .int16: return .integer(Int64(Int16(truncatingIfNeeded: buffer.load(as: Int64.self))))
        case .int32: return .integer(Int64(Int32(truncatingIfNeeded: buffer.load(as: Int64.self))))
        case .int64: return .integer(buffer.load(as: Int64.self))
        case .uint8: return .integer(Int64(UInt8(truncatingIfNeeded: buffer.load(as: UInt64.self))))
        case .uint16: return .integer(Int64(UInt16(truncatingIfNeeded: buffer.load(as: UInt64.self))))
        case .uint32: return .integer(Int64(UInt32(truncatingIfNeeded: buffer.load(as: UInt64.self))))
        case .uint64:
            let value = buffer.load(as: UInt64.self)
            return Int64(exactly: value).map { .integer($0) } ?? .double(Double(value))
        case .float: return Self.number(Double(buffer.load(as: Float.self)))
        case .double: return Self.number(buffer.load(as: Double.self))
        case .string:
            guard let pointer = buffer.load(as: UnsafePointer<CChar>?.self) else { return .null }
            guard strnlen(pointer, maxOutputBytes + 1) <= maxOutputBytes else {
                throw StepCallError(
                    step: stepName, kind: .invalidOutput,
                    message: "\(signature.name) returned a string longer than the limit of \(maxOutputBytes) bytes (not read)")
            }
            guard let text = String(validatingCString: pointer) else {
                throw StepCallError(step: stepName, kind: .invalidOutput, message: "\(signature.name) returned a string that is not UTF-8")
            }
            return .string(text)
        }
    }

    private static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .double(value) : .null
    }
}

/// Which loaded file defines an address, through `dladdr`.
enum SymbolOwner {
    /// `Dl_info` as glibc and Darwin lay it out (four pointers); Swift's Glibc module hides
    /// `dladdr` and `Dl_info` behind `_GNU_SOURCE`, so both are reached by hand.
    private struct Info {
        var fileName: UnsafePointer<CChar>? = nil
        var fileBase: UnsafeMutableRawPointer? = nil
        var symbolName: UnsafePointer<CChar>? = nil
        var symbolAddress: UnsafeMutableRawPointer? = nil
    }

    private typealias Lookup = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32

    private static let dladdr: Lookup? = {
        #if canImport(Glibc)
        let everywhere = UnsafeMutableRawPointer(bitPattern: 0)  // RTLD_DEFAULT
        #else
        let everywhere = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #endif
        return dlsym(everywhere, "dladdr").map { unsafeBitCast($0, to: Lookup.self) }
    }()

    /// The path of the loaded object that contains `address`, or nil when none does.
    static func file(defining address: UnsafeRawPointer) -> String? {
        guard let dladdr else { return nil }
        var info = Info()
        let found = withUnsafeMutableBytes(of: &info) { dladdr(address, $0.baseAddress) }
        return found != 0 ? info.fileName.map { String(cString: $0) } : nil
    }
}
