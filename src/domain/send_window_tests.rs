//! Send windows on fixed instants (times computed apart, from the IANA
//! database of another implementation).

use super::*;

const BERLIN_WED_07_00: Millis = 1_780_462_800_000;
const BERLIN_WED_12_00: Millis = 1_780_480_800_000;
const BERLIN_WED_23_00: Millis = 1_780_520_400_000;
const BERLIN_THU_09_00: Millis = 1_780_556_400_000;
const BERLIN_FRI_19_00: Millis = 1_780_678_800_000;
const BERLIN_MON_09_00: Millis = 1_780_902_000_000;
const NEW_YORK_WED_09_00: Millis = 1_780_491_600_000;
/// Sunday 2026-03-29 01:00 in Berlin; 02:00 jumps to 03:00.
const BERLIN_DST_DAY_01_00: Millis = 1_774_742_400_000;
const BERLIN_DST_DAY_03_00: Millis = 1_774_746_000_000;

fn window(days: &str, hours: &str) -> SendWindow {
    validate(&RawSendWindow {
        days: Some(days.into()),
        hours: Some(hours.into()),
        time_zone: Some("Europe/Berlin".into()),
        time_zone_column: None,
    })
    .unwrap()
}

#[test]
fn a_message_due_at_23_00_waits_for_the_morning() {
    let w = window("mon-fri", "09:00-18:00");
    let berlin = w.default_zone;
    assert_eq!(w.next_open(BERLIN_WED_23_00, berlin), BERLIN_THU_09_00);
    assert_eq!(w.next_open(BERLIN_WED_12_00, berlin), BERLIN_WED_12_00, "open: at once");
    assert_eq!(w.next_open(BERLIN_WED_07_00, berlin), BERLIN_WED_12_00 - 3 * 3_600_000, "later the same day");
    assert_eq!(w.next_open(BERLIN_FRI_19_00, berlin), BERLIN_MON_09_00, "over the weekend");
}

#[test]
fn the_contacts_own_zone_wins_when_its_column_names_one() {
    let w = window("mon-sun", "09:00-18:00");
    let mut c = Contact::new("ny@example.com", 0);
    assert_eq!(w.zone_for(&c), w.default_zone);
    c.fields.insert("time_zone".into(), "America/New_York".into());
    let ny = w.zone_for(&c);
    // Noon in Berlin is 06:00 in New York: wait for 09:00 there.
    assert_eq!(w.next_open(BERLIN_WED_12_00, ny), NEW_YORK_WED_09_00);
    c.fields.insert("time_zone".into(), "Mars/Olympus".into());
    assert_eq!(w.zone_for(&c), w.default_zone, "an unknown zone falls back to the default");
}

#[test]
fn a_window_starting_in_a_daylight_saving_gap_opens_after_it() {
    let w = window("sun", "02:30-05:00");
    assert_eq!(w.next_open(BERLIN_DST_DAY_01_00, w.default_zone), BERLIN_DST_DAY_03_00);
}

#[test]
fn days_and_hours_parse_or_say_how_to_write_them() {
    let w = window("fri-mon,wed", "00:00-24:00");
    assert_eq!(w.days, [true, false, true, false, true, true, true]);
    assert_eq!((w.start, w.end), (0, 1_440));
    let all = validate(&RawSendWindow::default()).unwrap();
    assert_eq!((all.days, all.start, all.end, all.default_zone), ([true; 7], 0, 1_440, chrono_tz::UTC));
    assert_eq!(all.next_open(BERLIN_WED_23_00, all.default_zone), BERLIN_WED_23_00);
    let err = |days: Option<&str>, hours: Option<&str>, zone: Option<&str>| {
        validate(&RawSendWindow {
            days: days.map(String::from),
            hours: hours.map(String::from),
            time_zone: zone.map(String::from),
            time_zone_column: None,
        })
        .unwrap_err()
    };
    assert!(err(Some("mon-fry"), None, None).contains("write mon, tue"));
    assert!(err(None, Some("9-18"), None).contains("HH:MM"));
    assert!(err(None, Some("18:00-09:00"), None).contains("start must come before the end"));
    assert!(err(None, Some("09:00-24:30"), None).contains("HH:MM"));
    assert!(err(None, None, Some("Berlin")).contains("IANA zone"));
}
