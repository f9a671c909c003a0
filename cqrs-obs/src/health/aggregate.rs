//! Aggregation of component statuses into one status per group.

use serde::Serialize;

use super::status::Status;

/// How the critical components of a group make its status.
///
/// ```
/// use cqrs_obs::health::{Aggregation, Status::*};
/// assert_eq!(Aggregation::AllUp.aggregate([Up, Degraded, Down]), Down);
/// assert_eq!(Aggregation::MajorityUp.aggregate([Up, Up, Down]), Degraded);
/// assert_eq!(Aggregation::AnyUp.aggregate([Down, Up]), Degraded);
/// assert_eq!(Aggregation::AnyUp.aggregate([Down, Down]), Down);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// The worst status wins: DOWN > OUT_OF_SERVICE > DEGRADED > UP > UNKNOWN (UNKNOWN only
    /// when every component is UNKNOWN).
    #[default]
    AllUp,
    /// UP when every component is UP; DEGRADED when more than half are UP or DEGRADED; DOWN
    /// otherwise.
    MajorityUp,
    /// UP when every component is UP; DEGRADED when at least one is UP or DEGRADED; DOWN
    /// otherwise.
    AnyUp,
}

impl Aggregation {
    /// The aggregate of these statuses; a group without critical components is UP.
    pub fn aggregate(self, statuses: impl IntoIterator<Item = Status>) -> Status {
        let (mut total, mut up, mut working, mut worst) = (0usize, 0usize, 0usize, None);
        for status in statuses {
            total += 1;
            up += usize::from(status == Status::Up);
            working += usize::from(matches!(status, Status::Up | Status::Degraded));
            worst = worst.max(Some(status));
        }
        let Some(worst) = worst else {
            return Status::Up;
        };
        if up == total {
            return Status::Up;
        }
        match self {
            Aggregation::AllUp => worst,
            Aggregation::MajorityUp if working * 2 > total => Status::Degraded,
            Aggregation::AnyUp if working > 0 => Status::Degraded,
            Aggregation::MajorityUp | Aggregation::AnyUp => Status::Down,
        }
    }
}

impl std::str::FromStr for Aggregation {
    type Err = super::HealthError;

    /// `all-up`, `majority-up` or `any-up`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all-up" => Ok(Aggregation::AllUp),
            "majority-up" => Ok(Aggregation::MajorityUp),
            "any-up" => Ok(Aggregation::AnyUp),
            other => Err(super::HealthError::BadValue {
                what: "aggregation",
                value: other.to_owned(),
                expected: "`all-up`, `majority-up` or `any-up`",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Aggregation::*;
    use super::*;
    use Status::*;

    #[test]
    fn all_up_takes_the_worst() {
        assert_eq!(AllUp.aggregate([]), Up);
        assert_eq!(AllUp.aggregate([Up, Up]), Up);
        assert_eq!(AllUp.aggregate([Up, Unknown]), Up);
        assert_eq!(AllUp.aggregate([Unknown, Unknown]), Unknown);
        assert_eq!(AllUp.aggregate([Up, Degraded]), Degraded);
        assert_eq!(AllUp.aggregate([Degraded, OutOfService]), OutOfService);
        assert_eq!(AllUp.aggregate([OutOfService, Down, Up]), Down);
    }

    #[test]
    fn majority_up_needs_more_than_half() {
        assert_eq!(MajorityUp.aggregate([Up, Up, Up]), Up);
        assert_eq!(MajorityUp.aggregate([Up, Degraded, Down]), Degraded);
        assert_eq!(MajorityUp.aggregate([Up, Down]), Down);
        assert_eq!(MajorityUp.aggregate([Up, Down, OutOfService]), Down);
        assert_eq!(MajorityUp.aggregate([Unknown, Unknown, Up]), Down);
    }

    #[test]
    fn any_up_needs_one() {
        assert_eq!(AnyUp.aggregate([Down, Down, Up]), Degraded);
        assert_eq!(AnyUp.aggregate([Down, Degraded]), Degraded);
        assert_eq!(AnyUp.aggregate([Down, OutOfService]), Down);
        assert_eq!(AnyUp.aggregate([Up]), Up);
    }

    #[test]
    fn parses_its_names() {
        assert_eq!("majority-up".parse::<Aggregation>().unwrap(), MajorityUp);
        assert!("most".parse::<Aggregation>().is_err());
    }
}
