//! Reading Prometheus text exposition, enough to tell whether a series is
//! there.

use stages::Series;

/// Whether `exposition` has a sample of `series`: its name, and every one of
/// its labels with exactly that value. A series with value 0 counts: it
/// exists, which is what a dashboard needs to draw it.
pub fn has_series(exposition: &str, series: &Series) -> bool {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_sample)
        .any(|(name, labels)| {
            name == series.name
                && series
                    .labels
                    .iter()
                    .all(|(label, value)| labels.iter().any(|(l, v)| l == label && v == value))
        })
}

/// `name{a="x",b="y"} 1` -> (`name`, [(a, x), (b, y)]). Values with escaped
/// quotes or commas are not split correctly; none of ours have them.
fn parse_sample(line: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let series = line.trim().rsplit_once(' ')?.0;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series, Vec::new()));
    };
    let labels = rest
        .trim_end_matches('}')
        .split(',')
        .filter_map(|pair| {
            let (label, value) = pair.split_once('=')?;
            Some((label.trim(), value.trim().trim_matches('"')))
        })
        .collect();
    Some((name, labels))
}

/// The series text as PromQL would write it, for messages.
pub fn describe(series: &Series) -> String {
    if series.labels.is_empty() {
        return series.name.to_owned();
    }
    let labels: Vec<String> = series
        .labels
        .iter()
        .map(|(label, value)| format!("{label}=\"{value}\""))
        .collect();
    format!("{}{{{}}}", series.name, labels.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP dice_rolls_total Dice rolled, by die and outcome.
# TYPE dice_rolls_total counter
dice_rolls_total{die_type="fair",result="success"} 12
dice_rolls_total{die_type="risky",result="error"} 0
http_requests_total{handler="/roll",method="GET",status="200"} 30
process_open_fds 9
"#;

    #[test]
    fn a_series_is_there_when_name_and_every_label_match() {
        let series = |name, labels| Series { name, labels };
        assert!(has_series(
            TEXT,
            &series("dice_rolls_total", &[("die_type", "fair")])
        ));
        assert!(has_series(
            TEXT,
            &series("dice_rolls_total", &[("die_type", "risky")])
        ));
        assert!(has_series(TEXT, &series("process_open_fds", &[])));
        assert!(has_series(
            TEXT,
            &series(
                "http_requests_total",
                &[("handler", "/roll"), ("method", "GET")]
            )
        ));
        assert!(!has_series(
            TEXT,
            &series("dice_rolls_total", &[("die_type", "loaded")])
        ));
        assert!(!has_series(TEXT, &series("dice_roll_value_bucket", &[])));
        assert!(!has_series(TEXT, &series("dice_rolls", &[])));
    }

    #[test]
    fn describe_writes_promql() {
        let series = Series {
            name: "dice_rolls_total",
            labels: &[("die_type", "fair"), ("result", "success")],
        };
        assert_eq!(
            describe(&series),
            r#"dice_rolls_total{die_type="fair",result="success"}"#
        );
    }
}
