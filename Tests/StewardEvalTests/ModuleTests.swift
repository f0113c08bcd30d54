@testable import StewardEval
import Testing

@Suite struct ModuleTests {
    @Test func builds() {}
}
