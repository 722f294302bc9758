//! Arrow values as JSON for the HTTP API. (Being written.)
