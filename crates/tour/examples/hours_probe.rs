//! Prints how opening-hours texts are read, one `id<TAB>text` per line on stdin:
//! `jq -r '.id + "\t" + .opening_hours' corpora/culture/sites.jsonl | cargo run -p zhiku-tour --example hours_probe`
fn main() {
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let (id, text) = line.split_once('\t').unwrap_or(("", &line));
        let h = zhiku_tour::OpeningHours::parse(text);
        println!(
            "{id}: always={} closed={:?} windows={:?} last={:?}",
            h.always_open,
            h.closed_on,
            h.windows
                .iter()
                .map(|w| format!(
                    "{}-{} {}–{}",
                    w.from_month,
                    w.to_month,
                    zhiku_tour::clock(w.open),
                    zhiku_tour::clock(w.close)
                ))
                .collect::<Vec<_>>(),
            h.last_entry
        );
    }
}
