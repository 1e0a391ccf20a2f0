//! A property test: every kind of identifier, generated at random and written in every form
//! people type (half or full width, grouped by spaces, dots, hyphens or full-width
//! punctuation, glued to Chinese text or set off from it), leaves the redactor with nothing a
//! person could read back as the identifier.
//!
//! The surrounding text holds no digits and no `@`, so after the placeholders are taken out
//! any digit (or `@`) left in the output, in any width, is a piece of an identifier that
//! survived.

use unicode_normalization::UnicodeNormalization;
use zhiku_redact::Redactor;

/// Cases generated per run; the seed is fixed so a failure repeats.
const CASES: usize = 4000;

/// Text that goes around an identifier: digit-free, Chinese and English.
const BEFORE: [&str; 8] = [
    "",
    "患者王某，",
    "请联系",
    "Patient ",
    "（家属）",
    "复诊时间待定；",
    "急诊 ",
    "question: ",
];
const AFTER: [&str; 8] = [
    "",
    "，二甲双胍怎么减量？",
    "。",
    " — should metformin be stopped?",
    "）",
    "请回电",
    "；肾功能不全",
    ", thanks",
];

/// The separators people put between digit groups, half and full width.
const SEPARATORS: [&str; 9] = [" ", ".", "-", "－", "．", "·", "　", " - ", "—"];

struct Gen(fastrand::Rng);

impl Gen {
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.0.u8(0..10)))
            .collect()
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.0.usize(..options.len())]
    }

    /// A valid 18-character resident ID: area code, a real birth date, sequence, check.
    fn resident_id(&mut self) -> String {
        let area = format!("{}{}", self.0.u8(1..9), self.digits(5));
        let date = format!(
            "{}{:02}{:02}",
            self.0.u32(1930..2020),
            self.0.u32(1..13),
            self.0.u32(1..29)
        );
        let body = format!("{area}{date}{}", self.digits(3));
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .bytes()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        let check = b"10X98765432"[(sum % 11) as usize] as char;
        format!("{body}{check}")
    }

    fn mobile(&mut self) -> String {
        format!("1{}{}", self.0.u8(3..10), self.digits(9))
    }

    /// The identifier written with separators: at the usual group boundaries, or anywhere.
    fn grouped(&mut self, plain: &str, usual: &[usize]) -> String {
        let cuts: Vec<usize> = if self.0.bool() {
            usual.to_vec()
        } else {
            (1..plain.len()).filter(|_| self.0.u8(0..4) == 0).collect()
        };
        let separator = self.pick(&SEPARATORS);
        let mut out = String::new();
        for (i, c) in plain.chars().enumerate() {
            if cuts.contains(&i) {
                out.push_str(separator);
            }
            out.push(c);
        }
        out
    }

    /// One identifier in one form, with the label it needs (if any) in front.
    fn identifier(&mut self) -> (String, &'static str) {
        match self.0.u8(0..6) {
            0 => {
                let id = self.resident_id();
                let label = self.pick(&["身份证号", "身份证：", "", "ID card "]);
                let written = self.grouped(&id, &[6, 14]);
                (format!("{label}{written}"), "resident ID")
            }
            1 => {
                let body = format!(
                    "{}{}{:02}{:02}{:02}{}",
                    self.0.u8(1..9),
                    self.digits(5),
                    self.0.u32(30..99),
                    self.0.u32(1..13),
                    self.0.u32(1..29),
                    self.digits(3)
                );
                let label = self.pick(&["身份证号", "身份证号码：", "旧身份证 ", "ID card no. "]);
                let written = self.grouped(&body, &[6, 12]);
                (format!("{label}{written}"), "15-digit resident ID")
            }
            2 => {
                let mobile = self.mobile();
                let prefix = self.pick(&["", "+86 ", "+86-", "0086 "]);
                let written = self.grouped(&mobile, &[3, 7]);
                (format!("{prefix}{written}"), "mobile")
            }
            3 => {
                let label = self.pick(&["住院号", "住院号：", "病案号 ", "MRN ", "MRN: "]);
                let letters = self.pick(&["", "ZY", "MZ", "A"]);
                let n = self.0.usize(6..10);
                let digits = self.digits(n);
                let written = self.grouped(&digits, &[4]);
                (format!("{label}{letters}{written}"), "record number")
            }
            4 => {
                let local = self.pick(&["wang.li", "j.smith", "patient_77", "lm"]);
                let domain = self.pick(&["example.org", "hospital.cn", "mail.example.com"]);
                (format!("联系邮箱 {local}@{domain}"), "e-mail")
            }
            _ => {
                let (y, m, d) = (self.0.u32(1930..2020), self.0.u32(1..13), self.0.u32(1..29));
                let label = self.pick(&["出生日期：", "出生日期 ", "DOB ", "date of birth: "]);
                let date = match self.0.u8(0..4) {
                    0 => format!("{y}年{m}月{d}日"),
                    1 => format!("{y}-{m:02}-{d:02}"),
                    2 => format!("{y}/{m}/{d}"),
                    _ => format!("{y}.{m:02}.{d:02}"),
                };
                (format!("{label}{date}"), "birth date")
            }
        }
    }
}

/// Half-width ASCII (letters, digits, punctuation) to its full-width form, as a Chinese input
/// method types it.
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

/// The output with its placeholders taken out, folded to ASCII.
fn without_placeholders(text: &str) -> String {
    let placeholder = regex::Regex::new(r"\[[A-Z_]+_\d+\]").expect("placeholder regex");
    placeholder.replace_all(text, "").nfkc().collect()
}

#[test]
fn no_identifier_survives_in_any_form() {
    let redactor = Redactor::default();
    let mut g = Gen(fastrand::Rng::with_seed(20261207));
    let mut failures = Vec::new();
    for _ in 0..CASES {
        let (identifier, kind) = g.identifier();
        let identifier = if g.0.bool() {
            full_width(&identifier)
        } else {
            identifier
        };
        let text = format!("{}{identifier}{}", g.pick(&BEFORE), g.pick(&AFTER));
        let redacted = redactor.redact(&text);
        let left = without_placeholders(&redacted.text);
        if left.chars().any(|c| c.is_ascii_digit() || c == '@') {
            failures.push(format!("{kind}: {text} → {}", redacted.text));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {CASES} generated identifiers survived, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_reported_forms_are_replaced() {
    let redactor = Redactor::default();
    for (text, expected) in [
        (
            "身份证号１１０１０５１９４９１２３１００２Ｘ，怎么用药？",
            "身份证号[RESIDENT_ID_1]，怎么用药？",
        ),
        ("电话１３８１２３４５６７８", "电话[PHONE_1]"),
        ("住院号：ＺＹ２０２４０００１", "住院号：[RECORD_NUMBER_1]"),
        ("call 138.1234.5678 today", "call [PHONE_1] today"),
        ("ID 110105.19491231.002X", "ID [RESIDENT_ID_1]"),
        (
            "邮箱ｊ．ｓｍｉｔｈ＠ｅｘａｍｐｌｅ．ｏｒｇ。",
            "邮箱[EMAIL_1]。",
        ),
        (
            "出生日期：１９４９年１２月３１日",
            "出生日期：[BIRTH_DATE_1]",
        ),
        ("身份证号 110105491231002", "身份证号 [RESIDENT_ID_1]"),
        // One person's number written two ways keeps one placeholder.
        (
            "电话１３８１２３４５６７８，即13812345678",
            "电话[PHONE_1]，即[PHONE_1]",
        ),
    ] {
        assert_eq!(redactor.redact(text).text, expected, "{text}");
    }
}

#[test]
fn clinical_numbers_in_full_width_or_grouped_stay() {
    let redactor = Redactor::default();
    for text in [
        "二甲双胍起始剂量５００ｍｇ，每日２次，ｅＧＦＲ　３０－４５时减量。",
        "血压 138/90 mmHg, HbA1c 7.5%, 2019-2024 年随访, 指南第 4.2.1 节",
        "剂量 1.5 mg/kg, 2.0-2.5 mg 每 8 小时",
        "编号 130 1234 567 不是电话",
        "1998年、2004年、2019年的三版指南",
    ] {
        let redacted = redactor.redact(text);
        assert!(redacted.is_clean(), "{text} → {}", redacted.text);
    }
}
