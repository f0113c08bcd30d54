import StewardEngine

/// Placeholder so the module builds while the store is written.
enum PostgresStorePlaceholder {}
