//! The die-service's tests: the real service on 127.0.0.1:0, reading a
//! specifications file of the test's own, exporting to an in-process receiver.

mod api;
mod helpers;
mod properties;
mod reload;
