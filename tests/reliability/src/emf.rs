//! Reads CloudWatch Embedded Metric Format documents back from a function's log lines,
//! checking each against the published specification (AWS CloudWatch User Guide,
//! "Specification: Embedded metric format"), independently of the recorder that wrote
//! them: a root `_aws` object with a millisecond `Timestamp` and `CloudWatchMetrics`
//! directives (`Namespace`, `Dimensions` as arrays of names, `Metrics` as `{Name, Unit}`),
//! and every dimension and metric named there present as a root member.

use std::collections::BTreeMap;

use serde_json::Value;

/// One metrics document: its namespace, dimensions and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub namespace: String,
    pub dimensions: BTreeMap<String, String>,
    /// Metric name → (unit, value).
    pub values: BTreeMap<String, (String, f64)>,
    /// Every root member that is neither a dimension nor a metric nor `_aws`.
    pub properties: BTreeMap<String, Value>,
}

/// Every EMF document among `lines`; panics on one that breaks the specification.
pub fn documents(lines: &[String]) -> Vec<Document> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .map(|doc| parse(&doc).unwrap_or_else(|why| panic!("not an EMF document ({why}): {doc}")))
        .collect()
}

impl Document {
    /// Metric `name` as a count (0 when absent); panics unless its unit is `Count` and
    /// its value a whole number.
    pub fn count(&self, name: &str) -> u64 {
        self.values.get(name).map_or(0, |(unit, value)| {
            assert_eq!(unit, "Count", "{name} is not a count: {self:?}");
            assert!(
                value.fract() == 0.0 && *value >= 0.0,
                "{name} is not a whole count: {self:?}"
            );
            // Whole and non-negative, as just checked.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = *value as u64;
            count
        })
    }
}

/// The sum of each count over every document of namespace `namespace`.
pub fn totals(lines: &[String], namespace: &str) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for doc in documents(lines).into_iter().filter(|d| d.namespace == namespace) {
        for name in doc.values.keys() {
            *totals.entry(name.clone()).or_insert(0) += doc.count(name);
        }
    }
    totals
}

fn parse(doc: &Value) -> Result<Document, String> {
    let root = doc.as_object().ok_or("the root is not an object")?;
    let aws = root["_aws"].as_object().ok_or("_aws is not an object")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is not a number of milliseconds")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let [directive] = directives.as_slice() else {
        return Err("expected one metric directive".into());
    };
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("Namespace is missing")?;
    let mut dimensions = BTreeMap::new();
    for set in directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions is not an array")?
    {
        let set = set.as_array().ok_or("a dimension set is not an array")?;
        if set.len() > 30 {
            return Err("a dimension set has more than 30 dimensions".into());
        }
        for name in set {
            let name = name.as_str().ok_or("a dimension name is not a string")?;
            let value = root
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("dimension {name} has no string value at the root"))?;
            dimensions.insert(name.to_owned(), value.to_owned());
        }
    }
    let mut values = BTreeMap::new();
    let metrics = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("Metrics is not an array")?;
    if metrics.len() > 100 {
        return Err("more than 100 metrics in a directive".into());
    }
    for metric in metrics {
        let name = metric
            .get("Name")
            .and_then(Value::as_str)
            .ok_or("a metric has no Name")?;
        let unit = metric.get("Unit").and_then(Value::as_str).unwrap_or("None");
        let value = root
            .get(name)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("metric {name} has no numeric value at the root"))?;
        values.insert(name.to_owned(), (unit.to_owned(), value));
    }
    let properties = root
        .iter()
        .filter(|(key, _)| key.as_str() != "_aws" && !dimensions.contains_key(*key) && !values.contains_key(*key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(Document {
        namespace: namespace.to_owned(),
        dimensions,
        values,
        properties,
    })
}
