// The chat page's files (web/dist, built by `make web`) are embedded at compile time: rebuild
// when they change, appear or disappear.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
