//! A corpus for clearance tests: one document at every classification in every domain. Each
//! is named in questions by a code ([`handle`]) and holds a word found nowhere else
//! ([`marker`]): wherever that word shows up, the document's text went.

use std::path::Path;

use zhiku_core::Classification;

pub const DOMAINS: [&str; 3] = ["education", "medicine", "culture"];

/// The code a question names a document by.
pub fn handle(domain: usize, level: Classification) -> String {
    format!("QZ{}{}7", domain + 1, level as usize + 1)
}

/// A word in a document and nowhere else (not in any question): where it shows up, that
/// document's text went.
pub fn marker(domain: usize, level: Classification) -> String {
    format!("SKX{}{}W", domain + 1, level as usize + 1)
}

pub fn doc_id(domain: &str, level: Classification) -> String {
    format!("mx-{domain}-{}", level.as_str())
}

pub fn write_corpus(root: &Path) {
    for (d, domain) in DOMAINS.iter().enumerate() {
        for level in Classification::ALL {
            let code = handle(d, level);
            let secret = marker(d, level);
            let (folder, extra) = match *domain {
                "medicine" => ("medicine/protocols", "department: endocrinology\n"),
                "culture" => ("culture/articles", ""),
                _ => ("education", ""),
            };
            let path = root
                .join(folder)
                .join(format!("matrix-{}.md", level.as_str()));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(
                path,
                format!(
                    "---\nid: {id}\ntitle: 核对记录 {code}\nlang: zh\nclassification: {level}\n{extra}---\n\
                     # 核对记录 {code}\n\n{numbered}本记录的核对代号是 {code}，口令是 {secret}，只用于检验访问控制。\
                     The check code of this record is {code} and its password {secret}; it exists to test access control.\n",
                    level = level.as_str(),
                    id = doc_id(domain, level),
                    // Medicine's is a numbered recommendation, as the CDS Hooks cards quote.
                    numbered = if *domain == "medicine" {
                        "**推荐意见 1.1**（推荐强度：强；证据等级：A）"
                    } else {
                        ""
                    },
                ),
            )
            .unwrap();
        }
    }
}
