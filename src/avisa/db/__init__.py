"""Database: engine factory, column types, table declarations and migrations."""
