//! Properties of the W3C `traceparent`, `tracestate` and `baggage` codecs: valid values
//! round-trip exactly, no input makes a parser panic, and whatever parses re-formats to a
//! header that parses to the same value.

use cqrs_obs::propagation::baggage::{Baggage, Member};
use cqrs_obs::propagation::traceparent::{SpanId, TraceFlags, TraceId, TraceParent};
use cqrs_obs::propagation::tracestate::{TraceState, MAX_MEMBERS};
use proptest::prelude::*;

// ---------------------------------------------------------------- traceparent

fn trace_parent() -> impl Strategy<Value = TraceParent> {
    let trace = any::<[u8; 16]>().prop_filter_map("zero trace id", TraceId::new);
    let span = any::<[u8; 8]>().prop_filter_map("zero span id", SpanId::new);
    (trace, span, any::<u8>()).prop_map(|(t, s, f)| TraceParent::new(t, s, TraceFlags::new(f)))
}

fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

/// Strings close to a header: right length and alphabet, or a valid header with one character
/// replaced by any character.
fn near_traceparent() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-fA-F\\-]{53,57}",
        (trace_parent(), 0..55usize, any::<char>()).prop_map(|(tp, at, c)| {
            let mut s: Vec<char> = tp.to_string().chars().collect();
            s[at] = c;
            s.into_iter().collect()
        }),
        (trace_parent(), 1..=0xfeu8, "(-.*)?")
            .prop_map(|(tp, v, tail)| { format!("{v:02x}{}{tail}", &tp.to_string()[2..]) }),
    ]
}

/// Whatever parses re-formats (as version 00) to a header with the same ids and flags.
fn assert_reparses(tp: TraceParent) -> Result<(), TestCaseError> {
    let again =
        TraceParent::parse(&tp.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(again.version(), 0);
    prop_assert_eq!(again.trace_id(), tp.trace_id());
    prop_assert_eq!(again.span_id(), tp.span_id());
    prop_assert_eq!(again.flags(), tp.flags());
    Ok(())
}

proptest! {
    #[test]
    fn traceparent_round_trips(tp in trace_parent(), before in ows(), after in ows()) {
        let header = tp.to_string();
        prop_assert_eq!(header.len(), 55);
        prop_assert_eq!(TraceParent::parse(&header), Ok(tp));
        prop_assert_eq!(TraceParent::parse(&format!("{before}{header}{after}")), Ok(tp));
        prop_assert_eq!(&*tp.to_header().to_string(), header.as_str());
        prop_assert_eq!(tp.trace_id().to_string().parse::<TraceId>(), Ok(tp.trace_id()));
        prop_assert_eq!(tp.span_id().to_string().parse::<SpanId>(), Ok(tp.span_id()));
    }

    #[test]
    fn traceparent_later_versions(tp in trace_parent(), v in 1..=0xfeu8, tail in "(-[ -~]*)?") {
        let header = format!("{v:02x}{}{tail}", &tp.to_string()[2..]);
        let parsed = TraceParent::parse(&header).unwrap();
        prop_assert_eq!(parsed.version(), v);
        prop_assert_eq!(parsed.trace_id(), tp.trace_id());
        prop_assert_eq!(parsed.flags().bits(), tp.flags().bits() & TraceFlags::KNOWN.bits());
        assert_reparses(parsed)?;
    }

    #[test]
    fn traceparent_never_panics(s in any::<String>()) {
        if let Ok(tp) = TraceParent::parse(&s) {
            assert_reparses(tp)?;
        }
    }

    #[test]
    fn traceparent_near_misses_never_panic(s in near_traceparent()) {
        if let Ok(tp) = TraceParent::parse(&s) {
            assert_reparses(tp)?;
        }
    }

    #[test]
    fn ids_from_arbitrary_strings_never_panic(s in any::<String>(), hex in "[0-9a-fA-Fé]{15,33}") {
        for s in [&s, &hex] {
            if let Ok(id) = s.parse::<TraceId>() {
                prop_assert_eq!(&id.to_string(), s);
            }
            if let Ok(id) = s.parse::<SpanId>() {
                prop_assert_eq!(&id.to_string(), s);
            }
        }
    }
}

// ---------------------------------------------------------------- tracestate

fn ts_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_\\-*/]{0,255}",
        "[a-z][a-z0-9_\\-*/]{0,8}",
        "[a-z0-9][a-z0-9_\\-*/]{0,240}@[a-z][a-z0-9_\\-*/]{0,13}",
    ]
}

fn ts_value() -> impl Strategy<Value = String> {
    prop_oneof!["[ !-+\\--<>-~]{0,255}[!-+\\--<>-~]", "[!-+\\--<>-~]{1,10}"]
}

/// Distinct keys, at most 32.
fn ts_members() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((ts_key(), ts_value()), 0..=MAX_MEMBERS).prop_map(|mut members| {
        let mut seen = std::collections::HashSet::new();
        members.retain(|(k, _)| seen.insert(k.clone()));
        members
    })
}

fn separator() -> impl Strategy<Value = String> {
    "[ \t]{0,2}(,[ \t]{0,2}){1,3}"
}

fn near_tracestate() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9@=, \t_\\-*/A-Z]{0,60}",
        "([a-z]{1,3}=[ -~]{0,4},?){0,40}"
    ]
}

fn assert_state_reparses(state: &TraceState) -> Result<(), TestCaseError> {
    let header = state.to_string();
    prop_assert_eq!(state.header_len(), header.len());
    prop_assert_eq!(TraceState::parse(&header), Ok(state.clone()));
    Ok(())
}

proptest! {
    #[test]
    fn tracestate_round_trips(members in ts_members(), seps in prop::collection::vec(separator(), 33)) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let state = TraceState::parse(&header).unwrap();
        let pairs: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(state.iter().collect::<Vec<_>>(), pairs);
        prop_assert_eq!(state.to_string(), header);
        // The same members with optional whitespace and empty members parse the same.
        let mut spaced = seps[32].clone();
        for (i, (k, v)) in members.iter().enumerate() {
            spaced.push_str(&format!("{k}={v}{}", seps[i]));
        }
        prop_assert_eq!(TraceState::parse(&spaced), Ok(state));
    }

    #[test]
    fn tracestate_never_panics(s in any::<String>(), near in near_tracestate()) {
        for s in [s, near] {
            if let Ok(state) = TraceState::parse(&s) {
                prop_assert!(state.len() <= MAX_MEMBERS);
                assert_state_reparses(&state)?;
            }
        }
    }

    #[test]
    fn tracestate_insert_moves_to_front(members in ts_members(), key in ts_key(), value in ts_value()) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut state = TraceState::parse(&header).unwrap();
        state.insert(&key, &value).unwrap();
        prop_assert_eq!(state.iter().next(), Some((key.as_str(), value.as_str())));
        prop_assert!(state.len() <= MAX_MEMBERS);
        prop_assert_eq!(state.iter().filter(|(k, _)| *k == key).count(), 1);
        assert_state_reparses(&state)?;
        prop_assert_eq!(state.remove(&key), Some(value));
        prop_assert_eq!(state.get(&key), None);
    }

    #[test]
    fn tracestate_truncation(members in ts_members(), max_len in 0..2000usize) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let full = TraceState::parse(&header).unwrap();
        let mut cut = full.clone();
        cut.truncate(max_len);
        prop_assert!(cut.header_len() <= max_len);
        assert_state_reparses(&cut)?;
        // What is left is a subsequence of what there was, in the same order.
        let mut rest = full.iter();
        for kept in cut.iter() {
            prop_assert!(rest.any(|m| m == kept));
        }
        // Nothing is removed when it already fits; a small entry goes only once no large one is left.
        if full.header_len() <= max_len {
            prop_assert_eq!(&cut, &full);
        }
        let is_large = |(k, v): &(&str, &str)| k.len() + 1 + v.len() > 128;
        let small_removed = full.iter().any(|m| !is_large(&m) && cut.get(m.0).is_none());
        if small_removed {
            prop_assert!(!cut.iter().any(|m| is_large(&m)));
        }
    }
}

// ---------------------------------------------------------------- baggage

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,12}"
}

fn octets() -> impl Strategy<Value = String> {
    "[!#-+\\--:<-\\[\\]-~]{0,10}"
}

/// Any text, short enough that 20 members stay under the 8192-byte limit once encoded.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..16).prop_map(String::from_iter)
}

fn member() -> impl Strategy<Value = Member> {
    let properties = prop::collection::vec((token(), prop::option::of(octets())), 0..3);
    (token(), text(), properties).prop_map(|(key, value, properties)| {
        let member = Member::new(&key, &value).unwrap();
        properties.into_iter().fold(member, |m, (k, v)| {
            m.with_property(&k, v.as_deref()).unwrap()
        })
    })
}

fn baggage() -> impl Strategy<Value = Baggage> {
    prop::collection::vec(member(), 0..20).prop_map(|members| {
        let mut baggage = Baggage::new();
        for m in members {
            baggage.insert_member(m).unwrap();
        }
        baggage
    })
}

fn near_baggage() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9=;,% \t\"\\\\é]{0,60}",
        "([a-z]{1,3} ?= ?(%[0-9a-fA-F]{2}|[!-~]){0,4}(;[a-z]{1,2}(=[a-z%]{0,2})?)?,){0,30}",
    ]
}

fn assert_baggage_reparses(baggage: &Baggage) -> Result<(), TestCaseError> {
    let header = baggage.to_string();
    prop_assert_eq!(baggage.header_len(), header.len());
    prop_assert_eq!(Baggage::parse(&header), Ok(baggage.clone()));
    Ok(())
}

proptest! {
    #[test]
    fn baggage_round_trips(baggage in baggage(), sp in "[ \t]{0,2}") {
        let header = baggage.to_string();
        let parsed = Baggage::parse(&header).unwrap();
        prop_assert_eq!(&parsed, &baggage);
        prop_assert_eq!(parsed.to_string(), header.clone());
        // Optional whitespace around separators does not change the value.
        let spaced = header.replace(',', &format!("{sp},{sp}")).replace(';', &format!("{sp};{sp}"));
        prop_assert_eq!(Baggage::parse(&format!("{sp}{spaced}{sp}")), Ok(baggage));
    }

    #[test]
    fn baggage_never_panics(s in any::<String>(), near in near_baggage()) {
        for s in [s, near] {
            if let Ok(baggage) = Baggage::parse(&s) {
                assert_baggage_reparses(&baggage)?;
            }
        }
    }

    #[test]
    fn baggage_insert_and_remove(mut baggage in baggage(), key in token(), value in text()) {
        baggage.insert(&key, &value).unwrap();
        prop_assert_eq!(baggage.get(&key), Some(value.as_str()));
        assert_baggage_reparses(&baggage)?;
        prop_assert_eq!(baggage.remove(&key), Some(value));
        prop_assert_eq!(baggage.get(&key), None);
    }
}
