//! Deterministic customers and contacts: the same `--seed` makes the same names, emails,
//! phones and stages (times are relative to the start of the current UTC day).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport_domain::clock::to_micros;
use rapport_domain::contact::{Contact, EmailEntry, PhoneEntry};
use rapport_domain::country::CountryCode;
use rapport_domain::customer::{Customer, LeadFollowUp};
use rapport_domain::email::Email;
use rapport_domain::enums::{
    Channel, ContactLabel, CustomerKind, Grade, Industry, LifecycleStage, PreferredChannel,
    SizeBand, Source,
};
use rapport_domain::name::Name;
use rapport_domain::phone::{Phone, Region};
use uuid::Uuid;

use crate::vocab::*;

/// How far back `created_at` goes.
const HISTORY_DAYS: i64 = 3 * 365;

/// What the measurement phase searches for, taken from one seeded customer.
#[derive(Debug, Clone)]
pub struct Sample {
    pub id: Uuid,
    pub name: String,
    pub chinese: bool,
    pub emails: Vec<String>,
    /// Each phone as a person would type it in its own country, with that region.
    pub phones: Vec<(String, Region)>,
}

/// Counts of what was generated.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenStats {
    pub customers: u64,
    pub contacts: u64,
    pub phones: u64,
    /// Generated numbers that `Phone::parse` refused (the contact is kept without a phone).
    pub phones_skipped: u64,
    /// Generated addresses that `Email::parse` refused (none are expected).
    pub emails_skipped: u64,
}

/// Picks one item of a non-empty list.
pub fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// A UUIDv7 at `at` whose random bits come from `rng`, so ids are reproducible.
pub fn uuid_at(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &rng.r#gen::<[u8; 10]>()).into_uuid()
}

pub struct Generator {
    rng: StdRng,
    anchor: DateTime<Utc>,
    owners: Vec<Uuid>,
    cn: (CountryCode, Region),
    us: (CountryCode, Region),
    /// Keeps every `stride`-th customer as a [`Sample`].
    stride: u64,
    next_contact: u64,
    pub stats: GenStats,
    pub samples: Vec<Sample>,
}

impl Generator {
    /// # Errors
    /// The country or region codes are unknown (they are not).
    pub fn new(
        seed: u64,
        anchor: DateTime<Utc>,
        owners: Vec<Uuid>,
        stride: u64,
    ) -> anyhow::Result<Self> {
        let country = |code: &str| -> anyhow::Result<(CountryCode, Region)> {
            Ok((
                CountryCode::parse(code).map_err(|e| anyhow::anyhow!("{code}: {e:?}"))?,
                Region::parse(code).map_err(|e| anyhow::anyhow!("{code}: {e:?}"))?,
            ))
        };
        Ok(Generator {
            rng: StdRng::seed_from_u64(seed),
            anchor,
            owners,
            cn: country("CN")?,
            us: country("US")?,
            stride: stride.max(1),
            next_contact: 0,
            stats: GenStats::default(),
            samples: Vec::new(),
        })
    }

    /// The next `n` customers with their contacts.
    pub fn batch(&mut self, n: usize) -> Vec<(Customer, Vec<Contact>)> {
        (0..n).map(|_| self.customer()).collect()
    }

    fn customer(&mut self) -> (Customer, Vec<Contact>) {
        let index = self.stats.customers;
        self.stats.customers += 1;
        let rng = &mut self.rng;
        let chinese = rng.gen_bool(0.5);
        let offset = rng.gen_range(0..HISTORY_DAYS * 86_400_000_000);
        let created_at = to_micros(self.anchor - Duration::microseconds(offset));
        let id = uuid_at(rng, created_at);
        let name = company_name(rng, chinese);
        let lifecycle_stage = match rng.gen_range(0..10) {
            0..=5 => LifecycleStage::Customer,
            6 => LifecycleStage::Lead,
            7 => LifecycleStage::Prospect,
            8 => LifecycleStage::Loyal,
            _ => LifecycleStage::Churned,
        };
        let (first_contacted_at, last_activity_at) = if lifecycle_stage == LifecycleStage::Lead {
            (None, None)
        } else {
            let first = created_at + Duration::minutes(rng.gen_range(10..72 * 60));
            let last = first + Duration::hours(rng.gen_range(0..180 * 24));
            (Some(first.min(self.anchor)), Some(last.min(self.anchor)))
        };
        let (country, _) = if chinese { self.cn } else { self.us };
        let customer = Customer {
            id,
            name: valid_name(&name),
            kind: if rng.gen_bool(0.4) {
                CustomerKind::Enterprise
            } else {
                CustomerKind::Sme
            },
            industry: Some(*pick(rng, Industry::ALL)),
            size: Some(*pick(rng, SizeBand::ALL)),
            grade: match rng.gen_range(0..10) {
                0 => Grade::Vip,
                1..=6 => Grade::Standard,
                _ => Grade::Potential,
            },
            // Grades as if set by hand: the grading job leaves the seeded base alone while the
            // load runs.
            grade_locked: true,
            lifecycle_stage,
            owner_id: Some(*pick(rng, &self.owners)),
            team_id: None,
            tags: Vec::new(),
            source: Some(*pick(rng, Source::ALL)),
            campaign_id: None,
            channel: Some(*pick(rng, Channel::ALL)),
            website: None,
            registration_number: None,
            country: Some(country),
            addresses: Vec::new(),
            external_ids: BTreeMap::new(),
            description: None,
            first_contact_due_at: LeadFollowUp::default().due_at(lifecycle_stage, created_at),
            first_contacted_at,
            last_activity_at,
            deleted_at: None,
            merged_into_id: None,
            erased_at: None,
            created_at,
            updated_at: created_at,
            version: 1,
        };
        let count = self.rng.gen_range(1..=3);
        let contacts: Vec<Contact> = (0..count)
            .map(|i| self.contact(&customer, chinese, i == 0))
            .collect();
        if index.is_multiple_of(self.stride) {
            self.samples
                .push(sample(&customer, &contacts, chinese, self.cn.1, self.us.1));
        }
        (customer, contacts)
    }

    fn contact(&mut self, customer: &Customer, chinese: bool, primary: bool) -> Contact {
        let n = self.next_contact;
        self.next_contact += 1;
        self.stats.contacts += 1;
        let rng = &mut self.rng;
        let (first, last, mail_first, mail_last, domain, title) = if chinese {
            let (given, given_py) = *pick(rng, GIVEN_NAMES);
            let (surname, surname_py) = *pick(rng, SURNAMES);
            let domain = *pick(rng, CN_MAIL_DOMAINS);
            (
                given,
                surname,
                given_py,
                surname_py,
                domain,
                *pick(rng, CN_TITLES),
            )
        } else {
            let first = *pick(rng, EN_FIRST_NAMES);
            let last = *pick(rng, EN_LAST_NAMES);
            let domain = *pick(rng, EN_MAIL_DOMAINS);
            (first, last, first, last, domain, *pick(rng, EN_TITLES))
        };
        let address = format!("{mail_first}.{mail_last}.{n}@{domain}").to_lowercase();
        let emails = match Email::parse(&address) {
            Ok(address) => vec![EmailEntry {
                address,
                label: ContactLabel::Work,
            }],
            Err(_) => {
                self.stats.emails_skipped += 1;
                Vec::new()
            }
        };
        let (text, region, label) = if chinese {
            (chinese_mobile(rng), self.cn.1, ContactLabel::Mobile)
        } else {
            (us_number(rng), self.us.1, ContactLabel::Work)
        };
        let phones = match Phone::parse(&text, region) {
            Ok(number) => {
                self.stats.phones += 1;
                vec![PhoneEntry { number, label }]
            }
            Err(_) => {
                self.stats.phones_skipped += 1;
                Vec::new()
            }
        };
        let title = rng.gen_bool(0.7).then(|| title.to_owned());
        let preferred_channel = rng.gen_bool(0.5).then(|| *pick(rng, PreferredChannel::ALL));
        Contact {
            id: uuid_at(rng, customer.created_at),
            customer_id: customer.id,
            first_name: valid_name(first),
            last_name: Some(valid_name(last)),
            title: title.map(|t| valid_name(&t)),
            emails,
            phones,
            preferred_channel,
            marketing_consent: None,
            birthday: None,
            is_primary: primary,
            created_at: customer.created_at,
            updated_at: customer.created_at,
            version: 1,
        }
    }
}

/// `n` names drawn as the seeded customers' are (half Chinese, half English), for the
/// customers the HTTP load creates: new entries of the search index look like old ones, as
/// they do in a real customer base, rather than all sharing one English name.
pub fn new_names(seed: u64, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let chinese = rng.gen_bool(0.5);
            company_name(&mut rng, chinese)
        })
        .collect()
}

fn company_name(rng: &mut StdRng, chinese: bool) -> String {
    if chinese {
        chinese_name(rng)
    } else {
        english_name(rng)
    }
}

/// `深圳张氏科技有限公司`, `杭州华信贸易股份有限公司`, sometimes a numbered branch.
fn chinese_name(rng: &mut StdRng) -> String {
    let city = *pick(rng, CITIES);
    let brand = if rng.gen_bool(0.5) {
        format!("{}氏", pick(rng, SURNAMES).0)
    } else {
        (*pick(rng, BRANDS)).to_owned()
    };
    let trade = *pick(rng, TRADES);
    let total: u32 = CN_SUFFIXES.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    let mut suffix = CN_SUFFIXES[0].0;
    for (s, w) in CN_SUFFIXES {
        if roll < *w {
            suffix = s;
            break;
        }
        roll -= w;
    }
    let mut name = format!("{city}{brand}{trade}{suffix}");
    if rng.gen_bool(0.2) {
        name.push_str(&format!("第{}分公司", rng.gen_range(1..100)));
    }
    name
}

/// `Acme Robotics Ltd`, sometimes with a number (`Apex Labs 214 Inc`).
fn english_name(rng: &mut StdRng) -> String {
    let first = *pick(rng, EN_FIRST_WORDS);
    let second = *pick(rng, EN_SECOND_WORDS);
    let suffix = *pick(rng, EN_SUFFIXES);
    if rng.gen_bool(0.3) {
        format!("{first} {second} {} {suffix}", rng.gen_range(1..1000))
    } else {
        format!("{first} {second} {suffix}")
    }
}

/// `138 0013 8000`: a 13x, 15x or 18x mobile as typed in China.
fn chinese_mobile(rng: &mut StdRng) -> String {
    let second = *pick(rng, &[3, 5, 8]);
    format!(
        "1{second}{} {:04} {:04}",
        rng.gen_range(0..10),
        rng.gen_range(0..10_000),
        rng.gen_range(0..10_000)
    )
}

/// A generated name: made from fixed lists of valid parts, so a refusal is a bug in the lists.
#[allow(clippy::expect_used)]
fn valid_name<const MAX: usize>(text: &str) -> Name<MAX> {
    Name::parse(text).expect("generated names are valid")
}

/// `(415) 555-2671`: a real area code and an exchange in 200–999, as typed in the US.
fn us_number(rng: &mut StdRng) -> String {
    format!(
        "({}) {}-{:04}",
        pick(rng, US_AREA_CODES),
        rng.gen_range(200..1000),
        rng.gen_range(0..10_000)
    )
}

fn sample(
    customer: &Customer,
    contacts: &[Contact],
    chinese: bool,
    cn: Region,
    us: Region,
) -> Sample {
    let region = if chinese { cn } else { us };
    Sample {
        id: customer.id,
        name: customer.name.to_string(),
        chinese,
        emails: contacts
            .iter()
            .flat_map(|c| c.emails.iter().map(|e| e.address.as_str().to_owned()))
            .collect(),
        phones: contacts
            .iter()
            .flat_map(|c| c.phones.iter())
            .map(|p| (national(&p.number, chinese), region))
            .collect(),
    }
}

/// A stored number written back the way its owner's country writes it.
fn national(phone: &Phone, chinese: bool) -> String {
    let d = phone.national_digits();
    let part = |from: usize, to: usize| d.get(from..to).unwrap_or_default();
    if chinese {
        format!("{} {} {}", part(0, 3), part(3, 7), part(7, 11))
    } else {
        format!("({}) {}-{}", part(0, 3), part(3, 6), part(6, 10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(seed: u64) -> Generator {
        let anchor = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        Generator::new(seed, anchor, vec![Uuid::nil()], 1).unwrap()
    }

    #[test]
    fn the_same_seed_makes_the_same_customers() {
        let a = generator(7).batch(50);
        let b = generator(7).batch(50);
        assert_eq!(a, b);
        assert_ne!(a, generator(8).batch(50));
    }

    #[test]
    fn most_numbers_parse_and_read_back_nationally() {
        let mut g = generator(1);
        let batch = g.batch(2_000);
        assert!(
            g.stats.phones_skipped * 20 < g.stats.contacts,
            "{:?}",
            g.stats
        );
        assert_eq!(g.stats.emails_skipped, 0);
        for s in &g.samples {
            for (typed, region) in &s.phones {
                Phone::parse(typed, *region).unwrap();
            }
        }
        assert!(batch.iter().any(|(c, _)| c.name.as_str().ends_with("公司")));
    }
}
