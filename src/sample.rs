//! Synthetic customer tables for demos, tests and benchmarks: realistic shapes, no real people.
//!
//! Rows depend only on the seed and the row number, so any range of a large table can be made
//! independently and the same seed always gives the same bytes.

use crate::io::IoError;
use crate::io::output::BatchWriter;
use crate::job::DataFormat;
use arrow::array::{ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Arc;

const FIRST_NAMES: &[&str] = &[
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Ava",
    "Elijah",
    "Sophia",
    "Mateo",
    "Isabella",
    "Lucas",
    "Mia",
    "Levi",
    "Charlotte",
    "Asher",
    "Harper",
    "James",
    "Evelyn",
    "Leo",
    "Luna",
    "Ethan",
    "Camila",
    "Aarav",
    "Priya",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Fatima",
    "Omar",
    "Amara",
    "Kwame",
    "Chloé",
    "Zoë",
    "José",
    "María",
    "Søren",
    "Björn",
    "Ngozi",
    "Diego",
    "Valentina",
    "Ivan",
    "Anastasia",
    "Sean",
    "Siobhan",
    "Raj",
    "Ananya",
    "Tomás",
    "Lucía",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Nguyen",
    "Kim",
    "Patel",
    "Chen",
    "Okafor",
    "O'Brien",
    "Müller",
    "Nakamura",
    "Kowalski",
    "Rossi",
    "Silva",
    "Dubois",
];
const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org", "mail.example", "inbox.test"];
/// City, state, three-digit zip prefix, telephone area code.
const CITIES: &[(&str, &str, u32, u32)] = &[
    ("Boston", "MA", 21, 617),
    ("Cambridge", "MA", 21, 857),
    ("Providence", "RI", 29, 401),
    ("Hartford", "CT", 61, 860),
    ("New York", "NY", 100, 212),
    ("Brooklyn", "NY", 112, 718),
    ("Newark", "NJ", 71, 973),
    ("Philadelphia", "PA", 191, 215),
    ("Baltimore", "MD", 212, 410),
    ("Atlanta", "GA", 303, 404),
    ("Miami", "FL", 331, 305),
    ("Chicago", "IL", 606, 312),
    ("Detroit", "MI", 482, 313),
    ("Minneapolis", "MN", 554, 612),
    ("Dallas", "TX", 752, 214),
    ("Austin", "TX", 787, 512),
    ("Denver", "CO", 802, 303),
    ("Phoenix", "AZ", 850, 602),
    ("Seattle", "WA", 981, 206),
    ("Portland", "OR", 972, 503),
    ("San Francisco", "CA", 941, 415),
    ("Los Angeles", "CA", 900, 213),
    ("San Diego", "CA", 921, 619),
];
const SEGMENTS: &[(&str, u32)] = &[("bronze", 50), ("silver", 30), ("gold", 15), ("platinum", 5)];

/// The schema of generated customer tables.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("full_name", DataType::Utf8, false),
        Field::new("email", DataType::Utf8, false),
        Field::new("phone", DataType::Utf8, true),
        Field::new("birth_date", DataType::Date32, false),
        Field::new("zip", DataType::Utf8, false),
        Field::new("gender", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, false),
        Field::new("income", DataType::Int64, true),
        Field::new("spend_90d", DataType::Float64, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("card_number", DataType::Utf8, true),
        Field::new("signup_date", DataType::Date32, false),
        Field::new("consent_analytics", DataType::Boolean, true),
    ]))
}

/// The first customer id; ids are consecutive from here.
pub const FIRST_CUSTOMER_ID: i64 = 100_001;

/// One batch of customers, rows `start..start + rows`.
pub fn batch(seed: u64, start: u64, rows: usize) -> RecordBatch {
    let mut id = Int64Builder::with_capacity(rows);
    let mut name = StringBuilder::new();
    let mut email = StringBuilder::new();
    let mut phone = StringBuilder::new();
    let mut birth = Date32Builder::with_capacity(rows);
    let mut zip = StringBuilder::new();
    let mut gender = StringBuilder::new();
    let mut city = StringBuilder::new();
    let mut income = Int64Builder::with_capacity(rows);
    let mut spend = Float64Builder::with_capacity(rows);
    let mut segment = StringBuilder::new();
    let mut card = StringBuilder::new();
    let mut signup = Date32Builder::with_capacity(rows);
    let mut consent = BooleanBuilder::with_capacity(rows);
    for row in start..start + rows as u64 {
        // One generator per row: any row range is reproducible on its own.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
        let (city_name, _state, zip_prefix, area) = CITIES[rng.random_range(0..CITIES.len())];
        id.append_value(FIRST_CUSTOMER_ID + row as i64);
        name.append_value(format!("{first} {last}"));
        let local: String = format!("{}.{}", ascii_lower(first), ascii_lower(last));
        let domain = EMAIL_DOMAINS[rng.random_range(0..EMAIL_DOMAINS.len())];
        email.append_value(format!("{local}{}@{domain}", row % 1000));
        if rng.random_bool(0.95) {
            phone.append_value(format!("+1-{area}-555-{:04}", rng.random_range(0..10_000)));
        } else {
            phone.append_null();
        }
        // Birth dates 1940-01-01 .. 2006-12-31, denser in working ages.
        let age_days = 18 * 365 + (rng.random_range(0..50 * 365) + rng.random_range(0..20 * 365)) / 2 * 2;
        birth.append_value(20_000 - age_days);
        zip.append_value(format!("{zip_prefix:03}{:02}", rng.random_range(0..100)));
        match rng.random_range(0..100) {
            0..48 => gender.append_value("F"),
            48..96 => gender.append_value("M"),
            96..98 => gender.append_value("X"),
            _ => gender.append_null(),
        }
        city.append_value(city_name);
        if rng.random_bool(0.97) {
            // Log-normal-ish incomes, rounded to hundreds.
            let base: f64 = (0..4).map(|_| rng.random_range(0.0..1.0)).sum::<f64>();
            income.append_value(((12_000.0 + 16_000.0 * base.powf(1.6)) / 100.0).round() as i64 * 100);
        } else {
            income.append_null();
        }
        let pick = rng.random_range(0..100);
        let mut cumulative = 0;
        let tier = SEGMENTS.iter().position(|(_, p)| {
            cumulative += p;
            pick < cumulative
        });
        let tier = tier.unwrap_or(0);
        segment.append_value(SEGMENTS[tier].0);
        let spend_value = rng.random_range(0.0..400.0) * (tier as f64 + 1.0).powi(2);
        spend.append_value((spend_value * 100.0).round() / 100.0);
        if rng.random_bool(0.8) {
            let digits: Vec<u32> = (0..16).map(|i| if i == 0 { 4 } else { rng.random_range(0..10) }).collect();
            let groups: Vec<String> =
                digits.chunks(4).map(|g| g.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect()).collect();
            card.append_value(groups.join("-"));
        } else {
            card.append_null();
        }
        signup.append_value(17_000 + rng.random_range(0..3_000));
        match rng.random_range(0..100) {
            0..90 => consent.append_value(true),
            90..97 => consent.append_value(false),
            _ => consent.append_null(),
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(email.finish()),
        Arc::new(phone.finish()),
        Arc::new(birth.finish()),
        Arc::new(zip.finish()),
        Arc::new(gender.finish()),
        Arc::new(city.finish()),
        Arc::new(income.finish()),
        Arc::new(spend.finish()),
        Arc::new(segment.finish()),
        Arc::new(card.finish()),
        Arc::new(signup.finish()),
        Arc::new(consent.finish()),
    ];
    RecordBatch::try_new(schema(), columns).expect("generated columns match the generated schema")
}

fn ascii_lower(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'é' => 'e',
            'ë' => 'e',
            'í' => 'i',
            'á' => 'a',
            'ø' => 'o',
            'ö' => 'o',
            'ü' => 'u',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Writes `rows` customers to `path` (CSV or Parquet by `format`), atomically.
///
/// # Errors
/// The output cannot be written.
pub fn write(path: &Path, format: DataFormat, rows: u64, seed: u64, overwrite: bool) -> Result<u64, IoError> {
    let mut writer = BatchWriter::create(path, format, overwrite, schema(), Vec::new(), &[])?;
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(crate::io::BATCH_SIZE as u64);
        writer.write(&batch(seed, start, n as usize))?;
        start += n;
    }
    writer.finish()
}

/// A deletion-request list: every `every`-th customer id with a request date.
///
/// # Errors
/// The output cannot be written.
pub fn write_deletion_requests(path: &Path, rows: u64, every: u64, overwrite: bool) -> Result<u64, IoError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("requested_on", DataType::Date32, false),
    ]));
    let mut ids = Int64Builder::new();
    let mut dates = Date32Builder::new();
    for row in (every / 2..rows).step_by(every.max(1) as usize) {
        ids.append_value(FIRST_CUSTOMER_ID + row as i64);
        dates.append_value(20_000 + (row % 300) as i32);
    }
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(ids.finish()), Arc::new(dates.finish())])
        .map_err(|source| IoError::Arrow { source })?;
    let mut writer = BatchWriter::create(path, DataFormat::Csv, overwrite, schema, Vec::new(), &[])?;
    writer.write(&batch)?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_depend_only_on_seed_and_position() {
        let whole = batch(7, 0, 20);
        let tail = batch(7, 10, 10);
        assert_eq!(whole.slice(10, 10), tail);
        assert_ne!(batch(8, 0, 20), whole);
    }
}
