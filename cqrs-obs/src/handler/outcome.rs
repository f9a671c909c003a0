//! Call outcomes and how a handler's return value is classified into one.

use serde::Serialize;

/// How one handler call ended. The `outcome` label of every handler metric.
///
/// `Ok`, `Rejected`, `Conflict` and `Error` come from the handler's return value (see
/// [`ClassifyError`]); `Panic` and `Cancelled` are recorded by the call site's drop guard when
/// the body unwinds or an async handler's future is dropped before it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call succeeded (any non-`Result` return value, or `Ok(_)`).
    Ok,
    /// A domain decision refused the message (for example insufficient funds).
    Rejected,
    /// An optimistic-concurrency conflict (the aggregate moved on under the command).
    Conflict,
    /// An infrastructure failure; the default for `Err(_)` values.
    Error,
    /// The handler body panicked. The panic continues after it is recorded.
    Panic,
    /// The handler's future was dropped before it completed.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Rejected,
        Outcome::Conflict,
        Outcome::Error,
        Outcome::Panic,
        Outcome::Cancelled,
    ];

    /// Whether the call failed for reasons of its own (`error`, `panic`), as opposed to a
    /// decision (`rejected`), a race (`conflict`) or its caller (`cancelled`).
    ///
    /// ```
    /// assert!(cqrs_obs::Outcome::Panic.is_failure());
    /// assert!(!cqrs_obs::Outcome::Rejected.is_failure());
    /// ```
    #[inline(always)]
    pub const fn is_failure(self) -> bool {
        matches!(self, Outcome::Error | Outcome::Panic)
    }

    /// The label value used in metrics and JSON.
    ///
    /// ```
    /// assert_eq!(cqrs_obs::Outcome::Conflict.as_str(), "conflict");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Conflict => "conflict",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Parses a label value back into an outcome.
    ///
    /// ```
    /// use cqrs_obs::Outcome;
    /// assert_eq!(Outcome::from_label("panic"), Some(Outcome::Panic));
    /// assert_eq!(Outcome::from_label("boom"), None);
    /// ```
    pub fn from_label(label: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == label)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a handler's error type into an [`Outcome`].
///
/// A handler returning `Result<_, E>` records `error` for every `Err` unless `E` implements
/// this trait. Implement it to tell domain rejections and concurrency conflicts apart from
/// infrastructure failures:
///
/// ```
/// use cqrs_obs::{ClassifyError, Outcome};
///
/// enum AccountError { InsufficientFunds, VersionConflict, StoreDown }
///
/// impl ClassifyError for AccountError {
///     fn outcome(&self) -> Outcome {
///         match self {
///             AccountError::InsufficientFunds => Outcome::Rejected,
///             AccountError::VersionConflict => Outcome::Conflict,
///             AccountError::StoreDown => Outcome::Error,
///         }
///     }
/// }
/// ```
pub trait ClassifyError {
    /// The outcome an `Err` holding this value is recorded as.
    fn outcome(&self) -> Outcome {
        Outcome::Error
    }
}

/// Looks at a handler's return value through auto-ref specialisation: generated code calls
/// `(&&&Probe(&value)).__cqrs_obs_outcome()` with the three traits below in scope, and the
/// most specific impl that applies wins. The choice is made where the types are concrete (the
/// expansion site), so no generic code ever needs to know the return type.
#[doc(hidden)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// `Result<T, E>` where `E: ClassifyError`: the error decides.
#[doc(hidden)]
pub trait ProbeClassified {
    fn __cqrs_obs_outcome(&self) -> Outcome;
}

/// Any other `Result<T, E>`: `Err` is `error`.
#[doc(hidden)]
pub trait ProbeResult {
    fn __cqrs_obs_outcome(&self) -> Outcome;
}

/// Anything else is `ok`.
#[doc(hidden)]
pub trait ProbeAny {
    fn __cqrs_obs_outcome(&self) -> Outcome;
}

impl<T, E: ClassifyError> ProbeClassified for &&Probe<'_, Result<T, E>> {
    #[inline(always)]
    fn __cqrs_obs_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(e) => e.outcome(),
        }
    }
}

impl<T, E> ProbeResult for &Probe<'_, Result<T, E>> {
    #[inline(always)]
    fn __cqrs_obs_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Error,
        }
    }
}

impl<T: ?Sized> ProbeAny for Probe<'_, T> {
    #[inline(always)]
    fn __cqrs_obs_outcome(&self) -> Outcome {
        Outcome::Ok
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the tests spell the exact expression generated code uses
mod tests {
    use super::*;

    enum Domain {
        Refused,
        Raced,
    }
    impl ClassifyError for Domain {
        fn outcome(&self) -> Outcome {
            match self {
                Domain::Refused => Outcome::Rejected,
                Domain::Raced => Outcome::Conflict,
            }
        }
    }

    #[test]
    fn classified_errors_use_their_trait() {
        let refused: Result<(), Domain> = Err(Domain::Refused);
        let raced: Result<(), Domain> = Err(Domain::Raced);
        let fine: Result<u8, Domain> = Ok(1);
        assert_eq!((&&&Probe(&refused)).__cqrs_obs_outcome(), Outcome::Rejected);
        assert_eq!((&&&Probe(&raced)).__cqrs_obs_outcome(), Outcome::Conflict);
        assert_eq!((&&&Probe(&fine)).__cqrs_obs_outcome(), Outcome::Ok);
    }

    #[test]
    fn unclassified_errors_are_error_and_other_values_ok() {
        let io: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
        assert_eq!((&&&Probe(&io)).__cqrs_obs_outcome(), Outcome::Error);
        let none: Option<u8> = None;
        assert_eq!((&&&Probe(&none)).__cqrs_obs_outcome(), Outcome::Ok);
        assert_eq!((&&&Probe(&())).__cqrs_obs_outcome(), Outcome::Ok);
    }

    #[test]
    fn labels_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_label(o.as_str()), Some(o));
        }
    }
}
