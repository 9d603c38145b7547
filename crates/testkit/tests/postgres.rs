//! The throwaway cluster starts, answers, stops and starts again.

use testkit::PostgresCluster;

#[test]
fn a_cluster_can_be_stopped_and_started_again() {
    let cluster = PostgresCluster::start("dicedb");
    assert_eq!(
        cluster.psql("dicedb", "SELECT current_database()"),
        "dicedb"
    );
    cluster.psql(
        "dicedb",
        "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)",
    );
    cluster.stop();
    cluster.start_again();
    assert_eq!(cluster.psql("dicedb", "SELECT n FROM kept"), "7");
}
