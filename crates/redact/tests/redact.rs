//! Realistic clinicians' questions, Chinese and English, through the public API.

use std::sync::Arc;

use zhiku_redact::{IdentifierKind, RedactError, Redacted, Redactor};

fn redact(text: &str) -> Redacted {
    Redactor::default().redact(text)
}

fn count(r: &Redacted, kind: IdentifierKind) -> usize {
    r.counts.get(&kind).copied().unwrap_or(0)
}

#[test]
fn chinese_question_with_id_record_and_mobile() {
    // 11010519491231002X is the worked example of GB 11643-1999 (valid check character).
    let r = redact("患者张某，身份证号11010519491231002X，住院号ZY20240311，电话13812345678，二甲双胍怎么减量？");
    assert_eq!(
        r.text,
        "患者张某，身份证号[RESIDENT_ID_1]，住院号[RECORD_NUMBER_1]，电话[PHONE_1]，二甲双胍怎么减量？"
    );
    assert_eq!(count(&r, IdentifierKind::ResidentId), 1);
    assert_eq!(count(&r, IdentifierKind::RecordNumber), 1);
    assert_eq!(count(&r, IdentifierKind::Phone), 1);
    assert_eq!(r.total(), 3);
    assert!(!r.is_clean());
}

#[test]
fn id_number_with_wrong_check_digit_is_left_alone() {
    // Same body as the GB 11643 example, but the check character should be X, not 1.
    let text = "身份证号110105194912310021，肾功能不全时二甲双胍怎么减量？";
    let r = redact(text);
    assert_eq!(r.text, text);
    assert!(r.is_clean());
}

#[test]
fn id_number_variants() {
    // Lower-case x, 6-8-4 grouping, and a valid number followed by another.
    let r = redact("身份证 11010519491231002x；家属身份证 440304 19851225 7310。");
    assert_eq!(
        r.text,
        "身份证 [RESIDENT_ID_1]；家属身份证 [RESIDENT_ID_2]。"
    );
    assert_eq!(count(&r, IdentifierKind::ResidentId), 2);
    // Inside a longer digit run it is not an ID number (nor anything else).
    let text = "订单号 911010519491231002X5 已付款";
    assert_eq!(redact(text).text, text);
    // A valid number right after an unrelated number and a space is still found.
    let r = redact("编号123456 11010519491231002X");
    assert_eq!(r.text, "编号123456 [RESIDENT_ID_1]");
}

#[test]
fn id_number_with_impossible_birth_date_is_left_alone() {
    // Checksum correct (computed for this body) but born on 1949-02-30.
    let text = "身份证号110105194902300020";
    let r = redact(text);
    assert_eq!(count(&r, IdentifierKind::ResidentId), 0);
}

#[test]
fn english_question_with_dob_mrn_email() {
    let r = redact(
        "Patient DOB 03/08/1956, MRN 00423871, email j.smith@example.org, eGFR 38 — should metformin be stopped?",
    );
    assert_eq!(
        r.text,
        "Patient DOB [BIRTH_DATE_1], MRN [RECORD_NUMBER_1], email [EMAIL_1], eGFR 38 — should metformin be stopped?"
    );
    assert_eq!(count(&r, IdentifierKind::BirthDate), 1);
    assert_eq!(count(&r, IdentifierKind::RecordNumber), 1);
    assert_eq!(count(&r, IdentifierKind::Email), 1);
}

#[test]
fn chinese_birth_date_before_suffix_and_landline_with_extension() {
    let r = redact(
        "患者1956年3月8日出生，联系电话 010-6512 3456 转 802，血压150/95 mmHg，怎么调整降压药？",
    );
    assert_eq!(
        r.text,
        "患者[BIRTH_DATE_1]出生，联系电话 [PHONE_1]，血压150/95 mmHg，怎么调整降压药？"
    );
    assert_eq!(count(&r, IdentifierKind::BirthDate), 1);
    assert_eq!(count(&r, IdentifierKind::Phone), 1);
}

#[test]
fn question_full_of_clinical_numbers_is_untouched() {
    let text = "2024-03-05入院，eGFR 35 ml/min/1.73 m²，HbA1c 7.5%，二甲双胍500 mg bid，\
        最大剂量2,000 mg/d；血压120/80 mmHg，08:30空腹血糖6.1 mmol/L。\
        Per KDIGO 2024 Recommendation 4.2.1, since 2019 on metformin 1000 mg, \
        admitted 2024-03-05 at 08:30, BP 120/80 mmHg, BSA 1.73 m², weight 72.5 kg, \
        LDL-C 2.6 mmol/L, potassium 5.1, INR 2.3, dose +15% — 发生于2023年6月, \
        3月5日生化示肌酐 156 μmol/L，张先生于2024年3月5日入院，床号12，患者编号未知。";
    let r = redact(text);
    assert_eq!(r.text, text);
    assert!(r.is_clean());
    assert_eq!(r.total(), 0);
    assert!(r.counts.is_empty());
}

#[test]
fn dates_not_introduced_as_birth_dates_stay() {
    let text = "Admitted 03/08/2024, diagnosed in March 2019, 2024年3月5日生化检查：肌酐升高。";
    assert_eq!(redact(text).text, text);
}

#[test]
fn birth_date_forms() {
    let cases = [
        ("出生日期：1956-03-08，", "出生日期：[BIRTH_DATE_1]，"),
        ("出生年月 1956年3月，", "出生年月 [BIRTH_DATE_1]，"),
        ("患者生于1956.03.08，", "患者生于[BIRTH_DATE_1]，"),
        ("生日为1956/3/8。", "生日为[BIRTH_DATE_1]。"),
        ("1956年3月8日生，男", "[BIRTH_DATE_1]生，男"),
        ("D.O.B. 28/03/1956.", "D.O.B. [BIRTH_DATE_1]."),
        (
            "date of birth: 8 March 1956;",
            "date of birth: [BIRTH_DATE_1];",
        ),
        (
            "Born on March 8, 1956 in Ohio",
            "Born on [BIRTH_DATE_1] in Ohio",
        ),
        ("birth date 8 Mar 1956", "birth date [BIRTH_DATE_1]"),
    ];
    for (input, expected) in cases {
        let r = redact(input);
        assert_eq!(r.text, expected, "{input}");
        assert_eq!(count(&r, IdentifierKind::BirthDate), 1, "{input}");
    }
    // An impossible date after a label is not a date of birth.
    let text = "DOB 1956-13-45";
    assert_eq!(redact(text).text, text);
}

#[test]
fn phone_forms() {
    let cases = [
        ("手机 138 1234 5678。", "手机 [PHONE_1]。"),
        ("手机+86 138-1234-5678。", "手机[PHONE_1]。"),
        ("电话008613812345678", "电话[PHONE_1]"),
        ("座机(010) 12345678", "座机[PHONE_1]"),
        ("座机（0755）2345 6789，", "座机[PHONE_1]，"),
        ("tel 0571-87654321 ext. 123.", "tel [PHONE_1]."),
        ("call +1 415-555-0132 today", "call [PHONE_1] today"),
        ("London +44 20 7946 0958.", "London [PHONE_1]."),
        ("Moscow +7 495 123-45-67;", "Moscow [PHONE_1];"),
        ("cell (415) 555-0132, ", "cell [PHONE_1], "),
        ("cell 415.555.0132", "cell [PHONE_1]"),
        ("+1 415-555-0132 2024", "[PHONE_1] 2024"),
    ];
    for (input, expected) in cases {
        let r = redact(input);
        assert_eq!(r.text, expected, "{input}");
        assert_eq!(count(&r, IdentifierKind::Phone), 1, "{input}");
    }
    // Twelve digits is not a mobile, a bare 0-prefixed run may be a lot number, `+5` is no
    // country code, and a North American exchange never starts with 0 or 1.
    for text in [
        "编号138123456789",
        "Lot 0123456789",
        "titrate +5 10 20 30 40 mg",
        "NDC 0002-8215-01, range 120-130-1500",
    ] {
        assert_eq!(redact(text).text, text, "{text}");
    }
}

#[test]
fn record_number_labels() {
    let cases = [
        ("病案号：A-0042387，", "病案号：[RECORD_NUMBER_1]，"),
        ("门诊号为 MZ123456", "门诊号为 [RECORD_NUMBER_1]"),
        ("就诊号码是20240311001。", "就诊号码是[RECORD_NUMBER_1]。"),
        (
            "Medical record no. 7734-221, ",
            "Medical record no. [RECORD_NUMBER_1], ",
        ),
        ("patient ID: P0099812.", "patient ID: [RECORD_NUMBER_1]."),
        (
            "Hospital number #H552301",
            "Hospital number #[RECORD_NUMBER_1]",
        ),
        ("admission no.2024A0311", "admission no.[RECORD_NUMBER_1]"),
        ("MRN is 00423871", "MRN is [RECORD_NUMBER_1]"),
        ("mrn-00423871", "mrn-[RECORD_NUMBER_1]"),
        ("患者ID：P00123", "患者ID：[RECORD_NUMBER_1]"),
    ];
    for (input, expected) in cases {
        let r = redact(input);
        assert_eq!(r.text, expected, "{input}");
        assert_eq!(count(&r, IdentifierKind::RecordNumber), 1, "{input}");
    }
    // Bed numbers, tokens without digits or shorter than 4, and look-alike words stay.
    for text in [
        "床号12，床号 A0312",
        "MRN unknown, patient number 12",
        "patient identification band checked",
        "inpatient number 2 of 10",
    ] {
        assert_eq!(redact(text).text, text, "{text}");
    }
}

#[test]
fn same_value_twice_gets_same_placeholder() {
    let r = redact(
        "电话13812345678（即 138-1234-5678），备用 13900001111；复诊再打13812345678。\
         Email A.Lee@Example.com or a.lee@example.com.",
    );
    assert_eq!(
        r.text,
        "电话[PHONE_1]（即 [PHONE_1]），备用 [PHONE_2]；复诊再打[PHONE_1]。\
         Email [EMAIL_1] or [EMAIL_1]."
    );
    // Counts are replacements made, repeats included.
    assert_eq!(count(&r, IdentifierKind::Phone), 4);
    assert_eq!(count(&r, IdentifierKind::Email), 2);
    assert_eq!(r.total(), 6);
}

#[test]
fn numbering_is_per_kind_in_order_of_first_appearance() {
    let r = redact("MRN 555001, tel 13700000000, MRN 555002, tel 13700000001, MRN 555001");
    assert_eq!(
        r.text,
        "MRN [RECORD_NUMBER_1], tel [PHONE_1], MRN [RECORD_NUMBER_2], tel [PHONE_2], MRN [RECORD_NUMBER_1]"
    );
    assert_eq!(count(&r, IdentifierKind::RecordNumber), 3);
    assert_eq!(count(&r, IdentifierKind::Phone), 2);
}

#[test]
fn configured_pattern_without_id_group_replaces_whole_match() {
    let redactor = Redactor::new(&[r"ZY\d{8}".to_owned()]).expect("valid pattern");
    let r = redactor.redact("上次ZY20240311出院，这次ZY20240502复诊，床号12");
    assert_eq!(
        r.text,
        "上次[RECORD_NUMBER_1]出院，这次[RECORD_NUMBER_2]复诊，床号12"
    );
    assert_eq!(count(&r, IdentifierKind::RecordNumber), 2);
}

#[test]
fn configured_pattern_with_id_group_replaces_only_the_group() {
    let redactor =
        Redactor::new(&[r"(?:床旁号|医保卡号)[:：]?\s*(?P<id>\d{6,})".to_owned()]).expect("valid");
    let r = redactor.redact("医保卡号：3301234567，床旁号 778899");
    assert_eq!(
        r.text,
        "医保卡号：[RECORD_NUMBER_1]，床旁号 [RECORD_NUMBER_2]"
    );
    // The same token found by the built-in label and a configured pattern is replaced once.
    let redactor = Redactor::new(&[r"ZY\d{8}".to_owned()]).expect("valid pattern");
    let r = redactor.redact("住院号ZY20240311");
    assert_eq!(r.text, "住院号[RECORD_NUMBER_1]");
    assert_eq!(r.total(), 1);
}

#[test]
fn invalid_configured_pattern_is_an_error() {
    let patterns = vec![r"ZY\d{8}".to_owned(), r"(?P<id>\d{6".to_owned()];
    match Redactor::new(&patterns) {
        Err(RedactError::Pattern { pattern, .. }) => assert_eq!(pattern, r"(?P<id>\d{6"),
        Ok(_) => panic!("an unclosed group must not compile"),
    }
    let err = Redactor::new(&["[".to_owned()])
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("invalid record-number pattern `[`")));
}

#[test]
fn redactor_shared_across_threads() {
    let redactor = Arc::new(Redactor::default());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let redactor = Arc::clone(&redactor);
            std::thread::spawn(move || redactor.redact(&format!("电话1381234567{i}")).text)
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().expect("thread finished"), "电话[PHONE_1]");
    }
}

#[test]
fn redacting_twice_changes_nothing_more() {
    // Answers and history turns may be redacted again; placeholders must not be re-matched.
    let once = redact(
        "患者生于1956.03.08，住院号ZY20240311，电话 010-6512 3456，MRN 00423871，\
         身份证11010519491231002X，mail a@b.org",
    );
    assert_eq!(once.total(), 6);
    let twice = redact(&once.text);
    assert_eq!(twice.text, once.text);
    assert!(twice.is_clean());
}

#[test]
fn kind_names_are_snake_case_and_serializable() {
    fn serializable<T: serde::Serialize>() {}
    serializable::<IdentifierKind>();
    let names: Vec<&str> = [
        IdentifierKind::ResidentId,
        IdentifierKind::Phone,
        IdentifierKind::RecordNumber,
        IdentifierKind::Email,
        IdentifierKind::BirthDate,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "resident_id",
            "phone",
            "record_number",
            "email",
            "birth_date"
        ]
    );
}

#[test]
fn empty_and_identifier_free_text() {
    for text in [
        "",
        "二甲双胍怎么减量？",
        "What is the max dose of metformin at eGFR 30-45?",
    ] {
        let r = redact(text);
        assert_eq!(r.text, text);
        assert!(r.is_clean());
    }
}
