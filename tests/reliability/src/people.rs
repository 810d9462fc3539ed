//! The people and groups the suite's events are about, with recognisable personal
//! data (every value is registered with the log scanner), and event builders.

use serde_json::{Value, json};

use crate::logs;

const GIVEN: [&str; 20] = [
    "Ottoline",
    "Bartholomew",
    "Wilhelmina",
    "Cornelius",
    "Philippa",
    "Ignatius",
    "Rosamund",
    "Leopold",
    "Gwendolyn",
    "Evander",
    "Seraphina",
    "Thaddeus",
    "Marisol",
    "Aurelio",
    "Henrietta",
    "Casimir",
    "Odalys",
    "Florian",
    "Imogen",
    "Lysander",
];

const FAMILY: [&str; 20] = [
    "Quenby",
    "Haverford",
    "Pellegrino",
    "Ashcombe",
    "Verhoeven",
    "Castellanos",
    "Delacroix",
    "Fairweather",
    "Mbeki-Larsen",
    "Okonkwo",
    "Thistlewood",
    "Rasmussen",
    "Kowalczyk",
    "Abernethy",
    "Nakashima",
    "Vantongeren",
    "Oyelaran",
    "Szymanski",
    "Brightwater",
    "Eriksdottir",
];

const STREETS: [&str; 8] = [
    "Wexcombe Crescent",
    "Juniper Row",
    "Marlowe Terrace",
    "Quarrington Mews",
    "Pennyfeather Lane",
    "Ollerton Parade",
    "Sallowfield Close",
    "Tamberly Gardens",
];

const TOWNS: [&str; 6] = [
    "Little Snoring",
    "Upper Tadmarton",
    "Nether Wallop",
    "Chipping Sodbury",
    "Westward Ho",
    "Much Wenlock",
];

const TITLES: [&str; 6] = [
    "Software Engineer",
    "Senior Software Engineer",
    "Engineering Manager",
    "Product Designer",
    "Data Analyst",
    "Site Reliability Engineer",
];

/// Group display names (not personal data).
pub const GROUPS: [&str; 12] = [
    "Team Aurora",
    "Team Borealis",
    "Team Cirrus",
    "Team Dynamo",
    "Payments Platform",
    "Search Relevance",
    "Mobile Guild",
    "Security Champions",
    "All Staff",
    "On-Call Primary",
    "On-Call Secondary",
    "Contractors",
];

/// One person, in one of a few versions (a mover changes version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub index: usize,
    pub user_name: String,
    pub given: String,
    pub family: String,
    pub middle: String,
    pub display: String,
    pub email: String,
    pub phone: String,
    pub street: String,
    pub town: String,
    pub postal: String,
    pub title: String,
    /// The enterprise extension's: fixed per person (the employee number), or moving
    /// with the version (a department move changes department and cost center).
    pub employee_number: String,
    pub department: String,
    pub cost_center: String,
}

/// Departments a mover moves between.
const DEPARTMENTS: [&str; 5] = ["Engineering", "Finance", "People", "Sales", "Security"];

/// Person `index` in `version` (0 is the joiner's; higher versions are movers).
pub fn person(index: usize, version: usize) -> Person {
    let given = GIVEN[index % GIVEN.len()];
    let family = FAMILY[(index * 7 + 3) % FAMILY.len()];
    let user_name = format!("{}.{}{index}", given.to_lowercase(), family.to_lowercase());
    let middle = GIVEN[(index + 5 + version) % GIVEN.len()];
    // Versions change the display name, the contact details and the title.
    let display = if version % 2 == 0 {
        format!("{given} {family}")
    } else {
        format!("{given} {middle} {family}")
    };
    let email = format!(
        "{}.{}{index}.v{version}@corp-mail.example",
        given.to_lowercase(),
        family.to_lowercase()
    );
    let phone = format!("+44 20 7946 {:04}", 1000 + index * 10 + version);
    let street = format!(
        "{} {}",
        17 + index * 3 + version,
        STREETS[(index + version) % STREETS.len()]
    );
    let town = TOWNS[(index + 2 * version) % TOWNS.len()].to_owned();
    let postal = format!("OX{} {}RQ", 10 + index % 9, version);
    let title = TITLES[(index + version) % TITLES.len()].to_owned();
    let department_index = (index + version) % DEPARTMENTS.len();
    Person {
        index,
        user_name,
        given: given.to_owned(),
        family: family.to_owned(),
        middle: middle.to_owned(),
        display,
        email,
        phone,
        street,
        town,
        postal,
        title,
        employee_number: format!("E-{:05}", 40_000 + index),
        department: DEPARTMENTS[department_index].to_owned(),
        cost_center: format!("CC-{}", 1000 + department_index * 100),
    }
}

impl Person {
    /// The values that must never show in a log line or an errorMessage.
    pub fn personal_values(&self) -> Vec<String> {
        let national = self.phone.trim_start_matches("+44 ").to_owned();
        let digits: String = self.phone.chars().filter(char::is_ascii_digit).collect();
        vec![
            self.user_name.clone(),
            self.given.clone(),
            self.family.clone(),
            self.display.clone(),
            self.email.clone(),
            self.phone.clone(),
            national,
            digits,
            self.street.clone(),
            self.town.clone(),
            self.postal.clone(),
            // Employee numbers identify a person as well as a name does.
            self.employee_number.clone(),
        ]
    }

    /// onboard-user's `user`.
    pub fn user(&self) -> Value {
        json!({
            "userName": self.user_name,
            "displayName": self.display,
            "name": {
                "givenName": self.given,
                "familyName": self.family,
                "middleName": self.middle,
                "formatted": format!("{} {} {}", self.given, self.middle, self.family),
            },
            "emails": [{ "value": self.email, "type": "work", "primary": true }],
            "phoneNumbers": [{ "value": self.phone, "type": "work", "primary": true }],
            "addresses": [{
                "streetAddress": self.street,
                "locality": self.town,
                "postalCode": self.postal,
                "country": "GB",
                "type": "work",
                "primary": true
            }],
            "title": self.title,
            "userType": "Employee",
            "preferredLanguage": "en-GB",
            "locale": "en-GB",
            "timezone": "Europe/London",
            "enterprise": {
                "employeeNumber": self.employee_number,
                "costCenter": self.cost_center,
                "division": "Operations",
                "department": self.department
            }
        })
    }
}

/// Registers every version of people `0..count` with the log scanner.
pub fn register(count: usize, versions: usize) {
    for index in 0..count {
        for version in 0..versions {
            logs::register_pii(person(index, version).personal_values());
        }
    }
}

/// onboard-user's request.
pub fn onboard(person: &Person, groups: &[&str]) -> Value {
    json!({ "user": person.user(), "groups": groups })
}

/// offboard-user's request; `mode` `None` leaves the field out (delete).
pub fn offboard(user_name: &str, mode: Option<&str>) -> Value {
    match mode {
        Some(mode) => json!({ "userName": user_name, "mode": mode }),
        None => json!({ "userName": user_name }),
    }
}

/// sync-group's request with a generous `maxRemovals`.
pub fn sync(group: &str, members: &[String], mode: &str) -> Value {
    json!({ "group": { "displayName": group }, "members": members, "mode": mode, "maxRemovals": 100_000 })
}

/// The EventBridge form of a request.
pub fn envelope(detail_type: &str, detail: Value) -> Value {
    let mut envelope = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "com.example.hr",
        "account": "111122223333",
        "time": "2026-11-30T09:00:00Z",
        "region": "eu-west-1",
        "resources": []
    });
    envelope["detail"] = detail;
    envelope
}
