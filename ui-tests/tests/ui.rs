//! Compile-pass and compile-fail cases of the handler macros. Pass cases are run: their
//! `main` asserts what the call recorded.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
