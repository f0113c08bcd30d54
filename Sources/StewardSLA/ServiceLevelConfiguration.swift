import Foundation
import StewardCalendar
import StewardJSON
import StewardTemplates

/// Every customer's business calendar and SLA target overrides, read from the overlays.
public struct ServiceLevelConfiguration: Sendable {
    /// Calendars by customer.
    public private(set) var calendars: [String: BusinessCalendar] = [:]
    /// SLA target overrides by customer, then template, then priority.
    public private(set) var targets: [String: [String: [String: ServiceLevels.Target]]] = [:]

    /// The calendar of instances with no customer (or a customer without one): open all the
    /// time, in UTC, so the SLA counts wall-clock time.
    public static let alwaysOpen: BusinessCalendar = {
        let allDay = ["00:00-24:00"]
        let spec = CalendarSpec(
            timezone: "UTC", hours: ["mon": allDay, "tue": allDay, "wed": allDay, "thu": allDay, "fri": allDay, "sat": allDay, "sun": allDay])
        return try! BusinessCalendar(spec: spec)
    }()

    /// No customers.
    public init() {}

    /// Reads the calendars and targets of `overlays`, returning the problems located at the
    /// overlay's `calendar` block.
    public static func load(_ overlays: [CustomerOverlay]) -> (ServiceLevelConfiguration, [TemplateDiagnostic]) {
        var configuration = ServiceLevelConfiguration()
        var diagnostics: [TemplateDiagnostic] = []
        for overlay in overlays {
            for (template, change) in overlay.templates where !change.slaTargets.isEmpty {
                configuration.targets[overlay.customer, default: [:]][template] = change.slaTargets
            }
            guard let calendarJSON = overlay.calendar else { continue }
            let location = overlay.calendarLocation ?? SourceLocation(file: overlay.file, line: 1, column: 1)
            do {
                let spec = try JSONDecoder().decode(CalendarSpec.self, from: Data(calendarJSON.jsonBytes))
                configuration.calendars[overlay.customer] = try BusinessCalendar(spec: spec)
            } catch let error as CalendarError {
                diagnostics.append(TemplateDiagnostic(location, "invalid calendar of customer '\(overlay.customer)': \(error)"))
            } catch let error as DecodingError {
                diagnostics.append(TemplateDiagnostic(location, "invalid calendar of customer '\(overlay.customer)': \(Self.describe(error))"))
            } catch {
                diagnostics.append(TemplateDiagnostic(location, "invalid calendar of customer '\(overlay.customer)': \(error)"))
            }
        }
        return (configuration, diagnostics)
    }

    /// The calendar a customer's SLA clock runs on.
    public func calendar(for customer: String?) -> BusinessCalendar {
        customer.flatMap { calendars[$0] } ?? Self.alwaysOpen
    }

    /// The target for a priority: the customer's override, else the template's.
    public func target(template: Template, customer: String?, priority: String) -> ServiceLevels.Target? {
        if let customer, let override = targets[customer]?[template.name]?[priority] { return override }
        return template.serviceLevels?.targets[priority]
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "" : "'\(path)': ")\(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
