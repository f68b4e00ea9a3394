//! Usage caps: a lifetime cap on uses (`max_uses`) and a balance of credits that a
//! verification spends (`cost`, default 1), refilled each day or month, as Unkey's
//! "remaining" and refill. Pure arithmetic: where the balance is kept (the index on
//! one node, Redis in a cluster) is the engine's business, and both spend by these
//! rules.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::record::InputError;

/// The most a cap, a balance, a refill or a cost may be: far beyond real use, and
/// exact in the doubles Redis' Lua counts in (2^53).
pub const MOST: u64 = 1_000_000_000_000;

/// How often a balance is refilled: at the start of each UTC day or month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    Day,
    Month,
}

impl Every {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Every::Day),
            "month" => Some(Every::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Every::Day => "day",
            Every::Month => "month",
        }
    }

    /// The refill period `now_ms` falls in: days, or months, since 1970 (UTC).
    pub fn period(self, now_ms: i64) -> i64 {
        match self {
            Every::Day => now_ms.div_euclid(DAY_MS),
            Every::Month => {
                let moment = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                (i64::from(moment.year()) - 1970) * 12 + i64::from(u8::from(moment.month())) - 1
            }
        }
    }
}

/// The balance is set back to `amount` at the start of each period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Refill {
    pub amount: u64,
    pub every: Every,
}

/// A token's credits as set by its creation or its last edit that gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Credits {
    /// The balance it was given.
    pub remaining: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<Refill>,
    /// When it was given (milliseconds): an edit that gives credits again, even the
    /// same number, starts a new balance, which this tells apart.
    pub set_at: i64,
}

/// What a request states about credits, unchecked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreditsRequest {
    Set {
        remaining: u64,
        refill_amount: Option<u64>,
        /// `None` with an amount: the request named no period.
        refill_every: Option<String>,
        /// Whether the request had a `refill` at all.
        refill_given: bool,
    },
    /// An edit that leaves them as they are (and the balance as it stands).
    Unchanged(Credits),
}

/// A token's caps, as a check reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Caps {
    pub max_uses: Option<u64>,
    pub credits: Option<Credits>,
}

impl Caps {
    pub fn is_none(&self) -> bool {
        self.max_uses.is_none() && self.credits.is_none()
    }

    /// When credits are next refilled after `now_ms`, if they ever are.
    pub fn next_refill_ms(&self, now_ms: i64) -> Option<i64> {
        let refill = self.credits?.refill?;
        Some(match refill.every {
            Every::Day => (now_ms.div_euclid(DAY_MS) + 1) * DAY_MS,
            Every::Month => {
                let now = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                let (year, month) = match now.month() {
                    time::Month::December => (now.year() + 1, time::Month::January),
                    month => (now.year(), month.next()),
                };
                time::Date::from_calendar_date(year, month, 1)
                    .map(|first| first.midnight().assume_utc().unix_timestamp() * 1000)
                    .unwrap_or(now_ms + 31 * DAY_MS)
            }
        })
    }
}

const DAY_MS: i64 = 86_400_000;

/// A capped token's live state: its uses so far, and its credits left in the refill
/// period it was last spent or refilled in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub uses: u64,
    pub credits_left: u64,
    pub period: i64,
}

impl Balance {
    /// The balance of credits just given (or of a token with none), with `uses` so far.
    pub fn fresh(caps: &Caps, uses: u64) -> Self {
        let (credits_left, period) = caps.credits.map_or((0, 0), |credits| {
            (
                credits.remaining,
                credits
                    .refill
                    .map_or(0, |refill| refill.every.period(credits.set_at)),
            )
        });
        Self {
            uses,
            credits_left,
            period,
        }
    }

    /// This balance as it is at `now_ms`: refilled if a refill period has begun since.
    pub fn at(mut self, caps: &Caps, now_ms: i64) -> Self {
        if let Some(refill) = caps.credits.and_then(|credits| credits.refill) {
            let now = refill.every.period(now_ms);
            if now > self.period {
                self.credits_left = refill.amount;
                self.period = now;
            }
        }
        self
    }

    /// What is left, for answers.
    pub fn left(&self, caps: &Caps) -> Left {
        Left {
            uses: caps.max_uses.map(|most| most.saturating_sub(self.uses)),
            credits: caps.credits.map(|_| self.credits_left),
        }
    }
}

/// What a capped token has left: uses under `max_uses`, and credits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Left {
    pub uses: Option<u64>,
    pub credits: Option<u64>,
}

/// Spends one use and `cost` credits from `balance` at `now_ms`, refilling first:
/// `Ok` with what is left after, or `Err` with what is left (nothing spent) when a
/// cap would be passed. Never spends past either cap.
pub fn spend(caps: &Caps, balance: &mut Balance, cost: u64, now_ms: i64) -> Result<Left, Left> {
    let current = balance.at(caps, now_ms);
    let uses_ok = caps.max_uses.is_none_or(|most| current.uses < most);
    let credits_ok = caps.credits.is_none() || current.credits_left >= cost;
    *balance = current;
    if !(uses_ok && credits_ok) {
        return Err(balance.left(caps));
    }
    balance.uses = balance.uses.saturating_add(1);
    if caps.credits.is_some() {
        balance.credits_left -= cost;
    }
    Ok(balance.left(caps))
}

/// Checks a request's `max_uses`.
pub fn validate_max_uses(max_uses: Option<u64>) -> Result<Option<u64>, InputError> {
    match max_uses {
        Some(most) if most > MOST => Err(InputError::new(
            "max_uses",
            "invalid_usage_cap",
            format!("max_uses must be 0 to {MOST}"),
        )),
        other => Ok(other),
    }
}

/// Checks what a request says about credits, at `now_ms`.
pub fn validate_credits(
    request: Option<CreditsRequest>,
    now_ms: i64,
) -> Result<Option<Credits>, InputError> {
    let bad = |detail: String| InputError::new("credits", "invalid_usage_cap", detail);
    let (remaining, refill_amount, refill_every, refill_given) = match request {
        None => return Ok(None),
        Some(CreditsRequest::Unchanged(credits)) => return Ok(Some(credits)),
        Some(CreditsRequest::Set {
            remaining,
            refill_amount,
            refill_every,
            refill_given,
        }) => (remaining, refill_amount, refill_every, refill_given),
    };
    if remaining > MOST {
        return Err(bad(format!("credits.remaining must be 0 to {MOST}")));
    }
    let refill = match (refill_given, refill_amount, refill_every) {
        (false, _, _) => None,
        (true, None, _) => {
            return Err(bad(
                "credits.refill needs an amount: the balance it is set back to each period, e.g. {\"amount\": 1000, \"every\": \"day\"}".into(),
            ));
        }
        (true, Some(amount), _) if amount > MOST => {
            return Err(bad(format!("credits.refill.amount must be 0 to {MOST}")));
        }
        (true, Some(amount), every) => {
            let every = every
                .as_deref()
                .and_then(Every::parse)
                .ok_or_else(|| InputError {
                    valid: Some(vec!["day".into(), "month".into()]),
                    ..bad(format!(
                        "credits.refill.every must be \"day\" or \"month\", not {:?}",
                        every.unwrap_or_default()
                    ))
                })?;
            Some(Refill { amount, every })
        }
    };
    Ok(Some(Credits {
        remaining,
        refill,
        set_at: now_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400_000;

    fn credits(remaining: u64, refill: Option<(u64, Every)>) -> Caps {
        Caps {
            max_uses: None,
            credits: Some(Credits {
                remaining,
                refill: refill.map(|(amount, every)| Refill { amount, every }),
                set_at: 10 * DAY + 5,
            }),
        }
    }

    #[test]
    fn credits_are_spent_by_cost_and_never_past_zero() {
        let caps = credits(10, None);
        let mut balance = Balance::fresh(&caps, 0);
        assert_eq!(
            spend(&caps, &mut balance, 4, 0).map(|l| l.credits),
            Ok(Some(6))
        );
        assert_eq!(
            spend(&caps, &mut balance, 6, 0).map(|l| l.credits),
            Ok(Some(0))
        );
        assert_eq!(
            spend(&caps, &mut balance, 1, 0),
            Err(Left {
                uses: None,
                credits: Some(0)
            })
        );
        assert_eq!(
            spend(&caps, &mut balance, 0, 0).map(|l| l.credits),
            Ok(Some(0)),
            "a free check"
        );
        let mut balance = Balance::fresh(&caps, 0);
        assert!(
            spend(&caps, &mut balance, 11, 0).is_err(),
            "more than the balance"
        );
        assert_eq!(balance.credits_left, 10, "a refusal spends nothing");
    }

    #[test]
    fn max_uses_counts_uses_whatever_the_cost() {
        let caps = Caps {
            max_uses: Some(2),
            credits: None,
        };
        let mut balance = Balance::fresh(&caps, 0);
        assert_eq!(
            spend(&caps, &mut balance, 50, 0).map(|l| l.uses),
            Ok(Some(1))
        );
        assert_eq!(
            spend(&caps, &mut balance, 50, 0).map(|l| l.uses),
            Ok(Some(0))
        );
        assert!(spend(&caps, &mut balance, 0, 0).is_err());
        assert_eq!(balance.uses, 2);
    }

    #[test]
    fn a_refill_sets_the_balance_back_at_each_period() {
        let caps = credits(3, Some((5, Every::Day)));
        let mut balance = Balance::fresh(&caps, 0);
        let today = 10 * DAY + 100;
        for _ in 0..3 {
            assert!(spend(&caps, &mut balance, 1, today).is_ok());
        }
        assert!(spend(&caps, &mut balance, 1, today).is_err());
        // The next day starts at the refill amount, not the first balance, and
        // unspent credits do not pile up.
        assert_eq!(
            spend(&caps, &mut balance, 1, 11 * DAY).map(|l| l.credits),
            Ok(Some(4))
        );
        assert_eq!(
            spend(&caps, &mut balance, 1, 13 * DAY).map(|l| l.credits),
            Ok(Some(4))
        );
    }

    #[test]
    fn months_are_calendar_months_in_utc() {
        let at = |text: &str| crate::timefmt::parse_rfc3339(text).unwrap();
        assert_eq!(Every::Month.period(0), 0);
        assert_eq!(Every::Month.period(at("1970-02-01T00:00:00Z")), 1);
        assert_eq!(
            Every::Month.period(at("2026-12-31T23:59:59.999Z")),
            56 * 12 + 11
        );
        assert_eq!(Every::Month.period(at("2027-01-01T00:00:00Z")), 57 * 12);
        assert_eq!(
            Every::Day.period(at("2026-12-07T23:59:59Z")),
            Every::Day.period(at("2026-12-07T00:00:00Z"))
        );
    }

    #[test]
    fn the_next_refill_is_the_next_day_or_month_start() {
        let at = |text: &str| crate::timefmt::parse_rfc3339(text).unwrap();
        let monthly = credits(1, Some((1, Every::Month)));
        assert_eq!(
            monthly.next_refill_ms(at("2026-12-07T10:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            monthly.next_refill_ms(at("2027-01-31T23:00:00Z")),
            Some(at("2027-02-01T00:00:00Z"))
        );
        let daily = credits(1, Some((1, Every::Day)));
        assert_eq!(
            daily.next_refill_ms(at("2026-12-07T10:00:00Z")),
            Some(at("2026-12-08T00:00:00Z"))
        );
        assert_eq!(credits(1, None).next_refill_ms(0), None);
    }

    #[test]
    fn bad_caps_name_the_field() {
        assert_eq!(
            validate_max_uses(Some(MOST + 1)).unwrap_err().field,
            "max_uses"
        );
        let set = |amount: Option<u64>, every: Option<&str>| CreditsRequest::Set {
            remaining: 5,
            refill_amount: amount,
            refill_every: every.map(str::to_owned),
            refill_given: true,
        };
        for bad in [
            set(None, Some("day")),
            set(Some(5), Some("week")),
            set(Some(5), None),
            set(Some(MOST + 1), Some("day")),
        ] {
            let error = validate_credits(Some(bad), 0).unwrap_err();
            assert_eq!((error.field, error.code), ("credits", "invalid_usage_cap"));
        }
        let good = validate_credits(Some(set(Some(9), Some("month"))), 77)
            .unwrap()
            .unwrap();
        assert_eq!(good.set_at, 77);
        assert_eq!(
            good.refill,
            Some(Refill {
                amount: 9,
                every: Every::Month
            })
        );
    }

    proptest! {
        /// Whatever the costs, the credits spent within one period never exceed the
        /// balance, and each allowed request is one use.
        #[test]
        fn never_over_spent(start in 0u64..1000, costs in prop::collection::vec(0u64..50, 0..200)) {
            let caps = credits(start, None);
            let mut balance = Balance::fresh(&caps, 0);
            let mut spent = 0;
            let mut allowed = 0;
            for cost in costs {
                if spend(&caps, &mut balance, cost, 0).is_ok() {
                    spent += cost;
                    allowed += 1;
                }
            }
            prop_assert!(spent <= start);
            prop_assert_eq!(balance.credits_left, start - spent);
            prop_assert_eq!(balance.uses, allowed);
        }
    }
}
