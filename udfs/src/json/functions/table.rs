//! The function table: one row per function, saying its name, its
//! parameters, what it returns and which [`Kernel`] computes one row.

use super::kernel::Kernel;
use crate::json::args::{Output, Param};

/// Arguments after the required ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Rest {
    None,
    /// One more, optional.
    Optional(Param),
    /// Any number more, of one kind (`VARIADIC`).
    Variadic(Param),
}

/// One row of the function table.
pub(super) struct Spec {
    pub(super) name: &'static str,
    /// PostgreSQL's `json` twin, if it has one.
    pub(super) json_alias: Option<&'static str>,
    pub(super) params: &'static [Param],
    pub(super) rest: Rest,
    pub(super) output: Output,
    pub(super) kernel: Kernel,
}

use Param::{Bool, Int, Jsonb, KeyIndexOrKeys, Path, Text};

pub(super) const SPECS: &[Spec] = &[
    Spec {
        name: "jsonb_object_field",
        json_alias: Some("json_object_field"),
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::ObjectField { text: false },
    },
    Spec {
        name: "jsonb_object_field_text",
        json_alias: Some("json_object_field_text"),
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::ObjectField { text: true },
    },
    Spec {
        name: "jsonb_array_element",
        json_alias: Some("json_array_element"),
        params: &[Jsonb, Int],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::ArrayElement { text: false },
    },
    Spec {
        name: "jsonb_array_element_text",
        json_alias: Some("json_array_element_text"),
        params: &[Jsonb, Int],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::ArrayElement { text: true },
    },
    Spec {
        name: "jsonb_extract_path_op",
        json_alias: Some("json_extract_path_op"),
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::PathOperator { text: false },
    },
    Spec {
        name: "jsonb_extract_path_text_op",
        json_alias: Some("json_extract_path_text_op"),
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::PathOperator { text: true },
    },
    Spec {
        name: "jsonb_extract_path",
        json_alias: Some("json_extract_path"),
        params: &[Jsonb],
        rest: Rest::Variadic(Text),
        output: Output::Jsonb,
        kernel: Kernel::ExtractPath { text: false },
    },
    Spec {
        name: "jsonb_extract_path_text",
        json_alias: Some("json_extract_path_text"),
        params: &[Jsonb],
        rest: Rest::Variadic(Text),
        output: Output::Text,
        kernel: Kernel::ExtractPath { text: true },
    },
    Spec {
        name: "jsonb_contains",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Contains,
    },
    Spec {
        name: "jsonb_contained",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Contained,
    },
    Spec {
        name: "jsonb_exists",
        json_alias: None,
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Exists,
    },
    Spec {
        name: "jsonb_exists_any",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::ExistsAny,
    },
    Spec {
        name: "jsonb_exists_all",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::ExistsAll,
    },
    Spec {
        name: "jsonb_concat",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::Concat,
    },
    Spec {
        name: "jsonb_delete",
        json_alias: None,
        params: &[Jsonb, KeyIndexOrKeys],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::Delete,
    },
    Spec {
        name: "jsonb_delete_path",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::DeletePath,
    },
    Spec {
        name: "jsonb_typeof",
        json_alias: Some("json_typeof"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::Typeof,
    },
    Spec {
        name: "jsonb_array_length",
        json_alias: Some("json_array_length"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Int,
        kernel: Kernel::ArrayLength,
    },
    Spec {
        name: "jsonb_strip_nulls",
        json_alias: Some("json_strip_nulls"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::StripNulls,
    },
    Spec {
        name: "jsonb_pretty",
        json_alias: None,
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::Pretty,
    },
    Spec {
        name: "jsonb_set",
        json_alias: None,
        params: &[Jsonb, Path, Jsonb],
        rest: Rest::Optional(Bool),
        output: Output::Jsonb,
        kernel: Kernel::Set,
    },
    Spec {
        name: "jsonb_insert",
        json_alias: None,
        params: &[Jsonb, Path, Jsonb],
        rest: Rest::Optional(Bool),
        output: Output::Jsonb,
        kernel: Kernel::Insert,
    },
];
