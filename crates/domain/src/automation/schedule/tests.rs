use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn cron(expr: &str, zone: &str) -> Cron {
    Cron::parse(expr, zone).unwrap_or_else(|e| panic!("{expr:?} in {zone}: {e}"))
}

/// The `count` occurrences after `from`, chained through `next_after`.
fn run(c: &Cron, from: &str, count: usize) -> Vec<String> {
    let mut t = at(from);
    (0..count)
        .map(|_| {
            t = c.next_after(t).unwrap();
            t.format("%Y-%m-%dT%H:%MZ").to_string()
        })
        .collect()
}

fn refusal(expr: &str, zone: &str) -> Vec<(String, Invalid)> {
    Cron::parse(expr, zone)
        .unwrap_err()
        .into_errors()
        .into_iter()
        .map(|e| (e.field, e.invalid))
        .collect()
}

// Parsing

#[test]
fn standard_expressions_parse_and_are_stored_normalized() {
    for expr in [
        "* * * * *",
        "*/15 9-17 * * mon-fri",
        "0 0 1,15 * *",
        "30 6 * jan-mar,dec sun",
        "1-30/2 * * * 7",
        "5/15 * * * *",
        "0 12 * * fri-sun",
        "0 0 29 2 *",
    ] {
        let c = cron(expr, "Asia/Shanghai");
        assert_eq!(c.as_str(), expr);
        assert_eq!(c.zone(), chrono_tz::Asia::Shanghai);
    }
    let c = cron("  0\t9  * JAN Mon-FRI ", "Europe/Berlin");
    assert_eq!(c.as_str(), "0 9 * jan mon-fri");
    assert_eq!(Cron::parse(c.as_str(), c.zone().name()), Ok(c));
}

#[test]
fn malformed_expressions_are_invalid_at_the_cron_field() {
    for expr in [
        "* * * *",
        "0 0 0 * * *",
        "@daily",
        "5-1 * * * *",
        "1,,2 * * * *",
        "-5 * * * *",
        "1-2-3 * * * *",
        "*/ * * * *",
        "** * * * *",
        "mon * * * *",
        "* * * foo *",
        "* * * * monday",
        "0 0 L * *",
        "0 0 ? * *",
        "0 0 * * 5#2",
        "0 0 31 2 *",
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 * * sat-mon",
    ] {
        let refused = refusal(expr, "UTC");
        assert_eq!(
            refused,
            [("schedule.cron".to_owned(), Invalid::InvalidDate)],
            "{expr:?}"
        );
    }
}

#[test]
fn numbers_outside_their_field_name_its_range() {
    let range = |min, max| Invalid::OutOfRange { min, max };
    for (expr, invalid) in [
        ("60 * * * *", range(0, 59)),
        ("* 24 * * *", range(0, 23)),
        ("* * 0 * *", range(1, 31)),
        ("* * 32 * *", range(1, 31)),
        ("* * * 13 *", range(1, 12)),
        ("* * * * 8", range(0, 7)),
        ("*/0 * * * *", range(1, 59)),
        ("* */25 * * *", range(1, 23)),
        ("99999999999 * * * *", range(0, 59)),
    ] {
        assert_eq!(
            refusal(expr, "UTC"),
            [("schedule.cron".to_owned(), invalid)],
            "{expr:?}"
        );
    }
}

#[test]
fn blank_long_and_zone_errors_are_all_listed_at_their_paths() {
    let choice = Invalid::NotOneOf { allowed: &[] };
    assert_eq!(
        refusal(" ", "Mars/Olympus"),
        [
            ("schedule.cron".to_owned(), Invalid::Required),
            ("schedule.time_zone".to_owned(), choice.clone()),
        ]
    );
    assert_eq!(
        refusal("0 9 * * *", ""),
        [("schedule.time_zone".to_owned(), Invalid::Required)]
    );
    assert_eq!(
        refusal(&format!("{} * * * *", "1,".repeat(250)), "UTC"),
        [("schedule.cron".to_owned(), Invalid::TooLong { max: 500 })]
    );
    assert_eq!(refusal("0 9 * * *", "CET+1")[0].1, choice);
}

// Occurrences

#[test]
fn month_ends_skip_the_months_without_the_day() {
    // 09:00 in Shanghai is 01:00 UTC.
    let c = cron("0 9 31 * *", "Asia/Shanghai");
    assert_eq!(
        run(&c, "2026-01-31T01:00:00Z", 3),
        [
            "2026-03-31T01:00Z",
            "2026-05-31T01:00Z",
            "2026-07-31T01:00Z"
        ]
    );
    let first = cron("0 0 1 * *", "Asia/Shanghai");
    // Across the year: 2026-01-01 00:00 in Shanghai is 2025-12-31T16:00Z.
    assert_eq!(
        first.latest(at("2025-12-31T15:59:59Z")),
        Some(at("2025-11-30T16:00:00Z"))
    );
    assert_eq!(
        first.next_after(at("2025-12-31T15:59:59Z")),
        Some(at("2025-12-31T16:00:00Z"))
    );
}

#[test]
fn a_leap_day_waits_for_its_year() {
    let c = cron("0 0 29 2 *", "UTC");
    assert_eq!(
        run(&c, "2026-03-01T00:00:00Z", 2),
        ["2028-02-29T00:00Z", "2032-02-29T00:00Z"]
    );
    assert_eq!(
        c.latest(at("2028-03-01T00:00:00Z")),
        Some(at("2028-02-29T00:00:00Z"))
    );
    // The last one, 2024-02-29, is more than 366 days back.
    assert_eq!(c.latest(at("2027-06-01T00:00:00Z")), None);
    // 2100 is not a leap year.
    assert_eq!(run(&c, "2097-01-01T00:00:00Z", 1), ["2104-02-29T00:00Z"]);
    // Leap day on a weekend only: both day fields are needed, since `*/6` is not restricted.
    let weekend = cron("0 0 29 2 */6", "UTC");
    assert_eq!(
        run(&weekend, "2026-01-01T00:00:00Z", 1),
        ["2032-02-29T00:00Z"]
    );
}

#[test]
fn sunday_is_0_or_7_or_sun() {
    // 2026-12-06 is a Sunday.
    let sundays = ["2026-12-06T10:00Z", "2026-12-13T10:00Z"];
    for expr in ["0 10 * * 0", "0 10 * * 7", "0 10 * * sun", "0 10 * * SUN"] {
        assert_eq!(
            run(&cron(expr, "UTC"), "2026-12-01T00:00:00Z", 2),
            sundays,
            "{expr}"
        );
    }
    // A range may end on Sunday either way: Friday, Saturday, Sunday.
    for expr in ["0 10 * * fri-sun", "0 10 * * 5-7", "0 10 * * 5-0"] {
        assert_eq!(
            run(&cron(expr, "UTC"), "2026-12-01T00:00:00Z", 4),
            [
                "2026-12-04T10:00Z",
                "2026-12-05T10:00Z",
                "2026-12-06T10:00Z",
                "2026-12-11T10:00Z"
            ],
            "{expr}"
        );
    }
}

#[test]
fn both_day_fields_restricted_fire_on_either() {
    // Every Friday and every 13th: 2026-11-13 is both, 2026-12-13 a Sunday.
    let c = cron("0 8 13 * fri", "UTC");
    assert_eq!(
        run(&c, "2026-11-01T00:00:00Z", 8),
        [
            "2026-11-06T08:00Z",
            "2026-11-13T08:00Z",
            "2026-11-20T08:00Z",
            "2026-11-27T08:00Z",
            "2026-12-04T08:00Z",
            "2026-12-11T08:00Z",
            "2026-12-13T08:00Z",
            "2026-12-18T08:00Z"
        ]
    );
    // A day field starting with `*` is not restricted: odd days that are Fridays.
    let both = cron("0 8 */2 * fri", "UTC");
    assert_eq!(
        run(&both, "2026-11-01T00:00:00Z", 3),
        [
            "2026-11-13T08:00Z",
            "2026-11-27T08:00Z",
            "2026-12-11T08:00Z"
        ]
    );
}

#[test]
fn shanghai_has_no_clock_changes() {
    let c = cron("30 2 * * *", "Asia/Shanghai");
    // 02:30 in Shanghai is 18:30 UTC the day before, every day of the year.
    assert_eq!(
        run(&c, "2026-03-27T12:00:00Z", 3),
        [
            "2026-03-27T18:30Z",
            "2026-03-28T18:30Z",
            "2026-03-29T18:30Z"
        ]
    );
    assert_eq!(
        c.latest(at("2026-10-25T18:29:59Z")),
        Some(at("2026-10-24T18:30:00Z"))
    );
    assert_eq!(
        c.latest(at("2026-10-25T18:30:00Z")),
        Some(at("2026-10-25T18:30:00Z"))
    );
}

#[test]
fn berlin_spring_forward_fires_skipped_times_after_the_gap() {
    // 2026-03-29: 02:00 CET (01:00Z) becomes 03:00 CEST.
    let daily = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        run(&daily, "2026-03-28T12:00:00Z", 2),
        ["2026-03-29T01:00Z", "2026-03-30T00:30Z"]
    );
    assert_eq!(
        daily.latest(at("2026-03-29T01:00:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        daily.latest(at("2026-03-29T00:59:59Z")),
        Some(at("2026-03-28T01:30:00Z"))
    );
    // Four skipped quarters and 03:00 itself fire once.
    let quarters = cron("*/15 * * * *", "Europe/Berlin");
    assert_eq!(
        run(&quarters, "2026-03-29T00:40:00Z", 3),
        [
            "2026-03-29T00:45Z",
            "2026-03-29T01:00Z",
            "2026-03-29T01:15Z"
        ]
    );
    let hourly = cron("30 * * * *", "Europe/Berlin");
    assert_eq!(
        run(&hourly, "2026-03-29T00:00:00Z", 3),
        [
            "2026-03-29T00:30Z",
            "2026-03-29T01:00Z",
            "2026-03-29T01:30Z"
        ]
    );
}

#[test]
fn berlin_fall_back_fires_a_repeated_time_once_the_first_time() {
    // 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET; 02:00 to 03:00 happens twice.
    let daily = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        run(&daily, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]
    );
    // On the second pass (02:45 CET) the occurrence is still the first pass's.
    assert_eq!(
        daily.latest(at("2026-10-25T01:45:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
    let halves = cron("*/30 * * * *", "Europe/Berlin");
    assert_eq!(
        run(&halves, "2026-10-24T23:50:00Z", 3),
        [
            "2026-10-25T00:00Z",
            "2026-10-25T00:30Z",
            "2026-10-25T02:00Z"
        ]
    );
    // From inside the second pass, the next run is 03:00 CET and the last 02:30 CEST.
    assert_eq!(
        halves.next_after(at("2026-10-25T01:10:00Z")),
        Some(at("2026-10-25T02:00:00Z"))
    );
    assert_eq!(
        halves.latest(at("2026-10-25T01:10:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn a_skipped_day_fires_after_it() {
    // Samoa skipped 2011-12-30 whole: its 12:00 fired at the start of 2011-12-31 (UTC+14).
    let c = cron("0 12 30 12 *", "Pacific/Apia");
    assert_eq!(run(&c, "2011-12-01T00:00:00Z", 1), ["2011-12-30T10:00Z"]);
}

#[test]
fn latest_is_the_occurrence_exactly_at_now() {
    let c = cron("0 * * * *", "UTC");
    let now = at("2026-12-07T10:00:00Z");
    assert_eq!(c.latest(now), Some(now));
    assert_eq!(
        c.latest(now - Duration::seconds(1)),
        Some(at("2026-12-07T09:00:00Z"))
    );
    assert_eq!(c.next_after(now), Some(at("2026-12-07T11:00:00Z")));
    let yearly = cron("0 0 1 1 *", "Asia/Shanghai");
    assert_eq!(
        yearly.latest(at("2026-12-31T15:59:00Z")),
        Some(at("2025-12-31T16:00:00Z"))
    );
}

/// Every occurrence in a window, straight from the definition: each local minute that matches,
/// resolved; compared with what the searches find.
#[test]
fn searches_agree_with_every_minute_checked_one_by_one() {
    // Clocks change in each window but Shanghai's, which holds a leap day.
    let windows = [
        ("Europe/Berlin", "2026-03-28T00:00:00Z"),
        ("Europe/Berlin", "2026-10-24T00:00:00Z"),
        ("America/Santiago", "2026-09-05T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-04-04T00:00:00Z"),
        ("Asia/Shanghai", "2028-02-27T00:00:00Z"),
    ];
    let exprs = [
        "*/15 * * * *",
        "30 2 * * *",
        "0,45 0-3 * * *",
        "10 * 29 2 sat",
        "* 2 * * *",
    ];
    for (zone, start) in windows {
        let (start, end) = (at(start), at(start) + Duration::days(3));
        let offset =
            |t: DateTime<Utc>| t.with_timezone(&zone.parse::<Tz>().unwrap()).offset().fix();
        assert_eq!(
            offset(start) != offset(end),
            zone != "Asia/Shanghai",
            "{zone}"
        );
        for expr in exprs {
            let c = cron(expr, zone);
            let expected = brute_force(&c, start, end);
            let mut found = Vec::new();
            let mut t = start;
            while let Some(next) = c.next_after(t).filter(|n| *n <= end) {
                found.push(next);
                t = next;
            }
            assert_eq!(found, expected, "{expr} in {zone}");
            let mut previous = c.latest(start);
            for o in expected {
                assert_eq!(c.latest(o), Some(o), "{expr} in {zone}");
                assert_eq!(
                    c.latest(o - Duration::seconds(1)),
                    previous,
                    "{expr} in {zone}"
                );
                previous = Some(o);
            }
        }
    }
}

fn brute_force(c: &Cron, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let first = start.with_timezone(&c.zone).naive_local() - Duration::days(1);
    let mut occurrences: Vec<_> = (0..5 * 24 * 60)
        .map(|m| first + Duration::minutes(m))
        .filter(|local| c.pattern.matches(*local))
        .map(|local| resolve(c.zone, local))
        .filter(|t| *t > start && *t <= end)
        .collect();
    occurrences.sort();
    occurrences.dedup();
    occurrences
}

proptest! {
    /// `latest` and `next_after` bracket any time, and each finds the other's occurrence.
    #[test]
    fn latest_and_next_after_agree(
        secs in 1_704_067_200_i64..1_893_456_000,
        expr in prop::sample::select(vec![
            "*/15 * * * *", "30 2 * * *", "0 9 * * mon-fri", "0 0 31 * *", "0 8 13 * fri",
            "5 1-3 * * *",
        ]),
        zone in prop::sample::select(vec!["Europe/Berlin", "Asia/Shanghai", "America/New_York"]),
    ) {
        let c = cron(expr, zone);
        let t = DateTime::from_timestamp(secs, 0).unwrap();
        let latest = c.latest(t).unwrap();
        let next = c.next_after(t).unwrap();
        prop_assert!(latest <= t && t < next);
        prop_assert_eq!(c.next_after(latest), Some(next));
        prop_assert_eq!(c.latest(next), Some(next));
        prop_assert_eq!(c.latest(next - Duration::seconds(1)), Some(latest));
    }
}

// Daily scans

#[test]
fn the_local_day_is_the_zones() {
    let now = at("2026-12-06T17:00:00Z");
    assert_eq!(
        local_day(now, chrono_tz::Asia::Shanghai),
        date("2026-12-07")
    );
    assert_eq!(
        local_day(now, chrono_tz::Europe::Berlin),
        date("2026-12-06")
    );
    assert_eq!(
        local_day(now, chrono_tz::America::Los_Angeles),
        date("2026-12-06")
    );
}

#[test]
fn a_day_starts_at_its_wall_clock_time() {
    let zone = chrono_tz::Asia::Shanghai;
    assert_eq!(
        day_start(date("2026-12-07"), time(9, 0), zone),
        at("2026-12-07T01:00:00Z")
    );
    assert_eq!(
        day_start(date("2026-12-07"), time(0, 0), zone),
        at("2026-12-06T16:00:00Z")
    );
}

#[test]
fn a_day_starts_once_when_clocks_change() {
    let berlin = chrono_tz::Europe::Berlin;
    // Skipped: the first instant after the gap, 03:00 CEST, for any time inside it.
    assert_eq!(
        day_start(date("2026-03-29"), time(2, 30), berlin),
        at("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        day_start(date("2026-03-29"), time(2, 10), berlin),
        at("2026-03-29T01:00:00Z")
    );
    // Repeated: the first time, in CEST.
    assert_eq!(
        day_start(date("2026-10-25"), time(2, 30), berlin),
        at("2026-10-25T00:30:00Z")
    );
    // Santiago skips its midnight (00:00 → 01:00, -04 → -03): the day starts at 01:00.
    let santiago: Tz = "America/Santiago".parse().unwrap();
    let day = date("2026-09-06");
    assert!(
        santiago
            .from_local_datetime(&day.and_time(time(0, 0)))
            .earliest()
            .is_none()
    );
    let start = day_start(day, time(0, 0), santiago);
    assert_eq!(start, at("2026-09-06T04:00:00Z"));
    assert_eq!(local_day(start, santiago), day);
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}
