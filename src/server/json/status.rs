//! Which HTTP status an engine error answers with, by its SQLSTATE.

/// The HTTP status for an engine error's SQLSTATE: 409 for conflicts a
/// retry may resolve, 503 when the server is busy or going away, 500 for the
/// server's own faults, 400 for everything that is the statement's.
pub fn http_status(sqlstate: &str) -> u16 {
    match sqlstate {
        // Unique violation, serialization failure, deadlock, the shard's
        // write lock not available in time: a retry may succeed.
        "23505" | "40001" | "40P01" | "55P03" => 409,
        // Reading what the server does not allow (a file outside the roots),
        // writing a read-only warehouse.
        "42501" | "25006" => 403,
        _ => match sqlstate.get(..2) {
            // Too many connections, cancelled, shutting down; a remote
            // shard that cannot be reached (08006).
            Some("53" | "57" | "08") => 503,
            // Storage, the hot tier, configuration, bugs.
            Some("58" | "F0" | "XX") | None => 500,
            // Syntax, names, types, data, constraints, transaction state,
            // features we lack.
            Some(_) => 400,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_sqlstate() {
        assert_eq!(http_status("42601"), 400);
        assert_eq!(http_status("42P01"), 400);
        assert_eq!(http_status("23502"), 400);
        assert_eq!(http_status("23505"), 409);
        assert_eq!(http_status("55P03"), 409);
        assert_eq!(http_status("40001"), 409);
        assert_eq!(http_status("08006"), 503);
        assert_eq!(http_status("42501"), 403);
        assert_eq!(http_status("25006"), 403);
        assert_eq!(http_status("XX000"), 500);
        assert_eq!(http_status("58030"), 500);
    }
}
