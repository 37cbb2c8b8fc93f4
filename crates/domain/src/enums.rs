//! The closed code lists of customers, contacts, activities and tasks: each a string enum whose
//! values are lower `snake_case`, as the API contract fixes.

/// Declares a string enum: the variants with their wire names, plus `ALL`, `NAMES`,
/// `as_str()`, `parse()`, `Display` and `FromStr`.
///
/// `parse` takes the exact wire name: blank is `Required`, any other string is
/// `NotOneOf { allowed: NAMES }`, so the API can list the allowed values. Exported: the API's
/// own closed lists (problem codes) use it too.
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order (the order of the OpenAPI document).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire names of [`Self::ALL`], in the same order.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// Reads a wire name.
            ///
            /// # Errors
            /// `Required` when blank, `NotOneOf` (listing [`Self::NAMES`]) for any other
            /// string.
            pub fn parse(input: &str) -> Result<Self, $crate::Invalid> {
                if input.trim().is_empty() {
                    return Err($crate::Invalid::Required);
                }
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == input)
                    .ok_or($crate::Invalid::NotOneOf { allowed: Self::NAMES })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Invalid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        $crate::serde_as_str!($name, $name::parse);
    };
}

string_enum! {
    /// What kind of party a customer is.
    pub enum CustomerKind {
        /// A large company.
        Enterprise => "enterprise",
        /// A small or medium-sized company.
        Sme => "sme",
        /// A private person.
        Individual => "individual",
    }
}

string_enum! {
    /// The sector a customer works in: a short code list, coarse enough to report on.
    pub enum Industry {
        Agriculture => "agriculture",
        Mining => "mining",
        Manufacturing => "manufacturing",
        EnergyUtilities => "energy_utilities",
        Construction => "construction",
        WholesaleRetail => "wholesale_retail",
        TransportLogistics => "transport_logistics",
        Hospitality => "hospitality",
        InformationTechnology => "information_technology",
        Telecommunications => "telecommunications",
        Finance => "finance",
        Insurance => "insurance",
        RealEstate => "real_estate",
        ProfessionalServices => "professional_services",
        Education => "education",
        Healthcare => "healthcare",
        MediaEntertainment => "media_entertainment",
        Government => "government",
        NonProfit => "non_profit",
        Other => "other",
    }
}

string_enum! {
    /// How many people a customer employs, in the bands commonly used for company size
    /// statistics.
    pub enum SizeBand {
        /// 1–9 people.
        Micro => "micro",
        /// 10–49 people.
        Small => "small",
        /// 50–249 people.
        Medium => "medium",
        /// 250–999 people.
        Large => "large",
        /// 1000 people or more.
        VeryLarge => "very_large",
    }
}

impl SizeBand {
    /// The band of a headcount; `None` for zero.
    pub fn for_headcount(people: u32) -> Option<SizeBand> {
        match people {
            0 => None,
            1..=9 => Some(SizeBand::Micro),
            10..=49 => Some(SizeBand::Small),
            50..=249 => Some(SizeBand::Medium),
            250..=999 => Some(SizeBand::Large),
            _ => Some(SizeBand::VeryLarge),
        }
    }
}

string_enum! {
    /// A customer's value grade, set by hand or computed from RFM.
    pub enum Grade {
        Vip => "vip",
        Standard => "standard",
        Potential => "potential",
    }
}

string_enum! {
    /// Where a customer is in its relationship with us; the allowed moves are in
    /// [`crate::lifecycle`].
    pub enum LifecycleStage {
        Lead => "lead",
        Prospect => "prospect",
        Customer => "customer",
        Loyal => "loyal",
        Churned => "churned",
    }
}

string_enum! {
    /// How a customer first found us.
    pub enum Source {
        Website => "website",
        Referral => "referral",
        Event => "event",
        Advertising => "advertising",
        ColdCall => "cold_call",
        Partner => "partner",
        SocialMedia => "social_media",
        TradeShow => "trade_show",
        Import => "import",
        /// Created from a marketing campaign (the customer's `campaign_id`).
        Campaign => "campaign",
        Other => "other",
    }
}

string_enum! {
    /// The channel of a first contact or of a ticket.
    pub enum Channel {
        Phone => "phone",
        Email => "email",
        Web => "web",
        Wechat => "wechat",
        Weibo => "weibo",
        MiniProgram => "mini_program",
        InPerson => "in_person",
        Referral => "referral",
        Event => "event",
        Other => "other",
    }
}

string_enum! {
    /// How a contact prefers to be reached.
    pub enum PreferredChannel {
        Phone => "phone",
        Email => "email",
        Sms => "sms",
        Wechat => "wechat",
        Weibo => "weibo",
        MiniProgram => "mini_program",
        InPerson => "in_person",
        Post => "post",
    }
}

string_enum! {
    /// The label of a contact's email address or phone number.
    pub enum ContactLabel {
        Work => "work",
        Home => "home",
        Mobile => "mobile",
        Other => "other",
    }
}

string_enum! {
    /// What an address is used for.
    pub enum AddressLabel {
        Billing => "billing",
        Shipping => "shipping",
        Office => "office",
        Home => "home",
        Other => "other",
    }
}

string_enum! {
    /// The kind of a recorded interaction.
    pub enum ActivityKind {
        Call => "call",
        Email => "email",
        Meeting => "meeting",
        Visit => "visit",
        /// WeChat and other messengers.
        Chat => "chat",
        Note => "note",
    }
}

string_enum! {
    /// Who started an interaction: the customer (`inbound`) or we (`outbound`).
    pub enum Direction {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

string_enum! {
    /// Where a follow-up task stands.
    pub enum TaskStatus {
        Open => "open",
        Done => "done",
        Cancelled => "cancelled",
    }
}

string_enum! {
    /// How a contact gave or withdrew marketing consent.
    pub enum ConsentSource {
        WebForm => "web_form",
        Email => "email",
        Phone => "phone",
        InPerson => "in_person",
        Import => "import",
        Api => "api",
        /// Withdrawn by unsubscribing from a campaign.
        Unsubscribe => "unsubscribe",
        Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Invalid;
    use std::fmt;
    use std::str::FromStr;

    /// Checks one enum: names round-trip, match `ALL`, are unique lower snake_case.
    fn check<T>(all: &[T], names: &[&str])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = Invalid>,
    {
        assert_eq!(all.len(), names.len());
        for (value, name) in all.iter().zip(names) {
            assert_eq!(value.to_string(), *name);
            assert_eq!(name.parse::<T>(), Ok(*value));
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not lower snake_case"
            );
            assert_eq!(
                names.iter().filter(|n| *n == name).count(),
                1,
                "{name} twice"
            );
        }
    }

    #[test]
    fn every_enum_round_trips() {
        check(CustomerKind::ALL, CustomerKind::NAMES);
        check(Industry::ALL, Industry::NAMES);
        check(SizeBand::ALL, SizeBand::NAMES);
        check(Grade::ALL, Grade::NAMES);
        check(LifecycleStage::ALL, LifecycleStage::NAMES);
        check(Source::ALL, Source::NAMES);
        check(Channel::ALL, Channel::NAMES);
        check(PreferredChannel::ALL, PreferredChannel::NAMES);
        check(ContactLabel::ALL, ContactLabel::NAMES);
        check(AddressLabel::ALL, AddressLabel::NAMES);
        check(ActivityKind::ALL, ActivityKind::NAMES);
        check(Direction::ALL, Direction::NAMES);
        check(TaskStatus::ALL, TaskStatus::NAMES);
        check(ConsentSource::ALL, ConsentSource::NAMES);
    }

    #[test]
    fn refuses_unknown_values_listing_the_allowed_ones() {
        assert_eq!(
            Grade::parse("gold"),
            Err(Invalid::NotOneOf {
                allowed: &["vip", "standard", "potential"]
            })
        );
        assert_eq!(
            Grade::parse("VIP"),
            Err(Invalid::NotOneOf {
                allowed: Grade::NAMES
            })
        );
        assert_eq!(
            Grade::parse(" vip"),
            Err(Invalid::NotOneOf {
                allowed: Grade::NAMES
            })
        );
        assert_eq!(Grade::parse("  "), Err(Invalid::Required));
    }

    #[test]
    fn the_spec_fixes_the_channels() {
        assert_eq!(
            Channel::NAMES,
            [
                "phone",
                "email",
                "web",
                "wechat",
                "weibo",
                "mini_program",
                "in_person",
                "referral",
                "event",
                "other"
            ]
        );
    }

    #[test]
    fn size_bands_cover_every_headcount() {
        assert_eq!(SizeBand::for_headcount(0), None);
        assert_eq!(SizeBand::for_headcount(1), Some(SizeBand::Micro));
        assert_eq!(SizeBand::for_headcount(9), Some(SizeBand::Micro));
        assert_eq!(SizeBand::for_headcount(10), Some(SizeBand::Small));
        assert_eq!(SizeBand::for_headcount(249), Some(SizeBand::Medium));
        assert_eq!(SizeBand::for_headcount(250), Some(SizeBand::Large));
        assert_eq!(SizeBand::for_headcount(999), Some(SizeBand::Large));
        assert_eq!(SizeBand::for_headcount(1000), Some(SizeBand::VeryLarge));
    }
}
