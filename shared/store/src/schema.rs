//! Declarations of logical tables and their secondary indexes, shared by both engines.

/// A secondary index: items that carry both string attributes are indexed (sparse, as a GSI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_attribute: &'static str,
    pub sort_attribute: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Logical name; engines map it to a physical table (DynamoDB adds a prefix).
    pub name: &'static str,
    pub indexes: Vec<IndexSpec>,
}

impl TableSpec {
    pub fn index(&self, name: &str) -> Option<&IndexSpec> {
        self.indexes.iter().find(|i| i.name == name)
    }
}
