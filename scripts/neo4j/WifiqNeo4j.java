import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Runs an embedded Neo4j 5 community DBMS with the Bolt connector for the
 * wifiq tests, as started by scripts/neo4j.sh.
 *
 * <p>Arguments: the home directory (data and logs go below it), the
 * neo4j.conf file to load and the file that contains the password of the
 * user neo4j. The password is set on every start, so a changed password
 * file takes effect at the next start. The process prints "wifiq-neo4j:
 * ready" once a query on the default database returns, and shuts the DBMS down
 * cleanly on SIGTERM.
 */
public final class WifiqNeo4j {
    private WifiqNeo4j() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: WifiqNeo4j HOME_DIR NEO4J_CONF PASSWORD_FILE");
            System.exit(2);
        }
        Path home = Path.of(args[0]);
        Path conf = Path.of(args[1]);
        String password = Files.readString(Path.of(args[2]), StandardCharsets.UTF_8).strip();
        if (password.length() < 8) {
            // Neo4j 5 rejects passwords shorter than 8 characters by default.
            System.err.println("wifiq-neo4j: invalid password in " + args[2] + ": want at least 8 characters");
            System.exit(2);
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(conf)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("wifiq-neo4j: shutting down");
            dbms.shutdown();
            stopped.countDown();
        }, "wifiq-neo4j-shutdown"));

        try {
            setPassword(dbms.database("system"), password);
            GraphDatabaseService graph = dbms.database("neo4j");
            long answer = graph.executeTransactionally("RETURN 1 AS one", Map.of(),
                    result -> (Long) result.next().get("one"));
            if (answer != 1) {
                throw new IllegalStateException("RETURN 1 returned " + answer);
            }
        } catch (RuntimeException e) {
            // The DBMS threads would keep the process alive: exit, so that
            // scripts/neo4j.sh sees the failure at once.
            e.printStackTrace();
            System.err.println("wifiq-neo4j: startup failed: " + e.getMessage());
            System.exit(1);
        }
        System.out.println("wifiq-neo4j: ready");
        System.out.flush();
        stopped.await();
    }

    /**
     * Sets the password of the user neo4j. Administration commands run on
     * the system database, and the embedded API runs them without
     * authentication, so this works on the first start (when neo4j still
     * has the default password) and on later ones.
     */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // Neo4j 5.26 rejects setting the password it already has; that
            // is the usual case on every start after the first.
            if (!String.valueOf(rootCause(e).getMessage()).contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    private static Throwable rootCause(Throwable e) {
        while (e.getCause() != null && e.getCause() != e) {
            e = e.getCause();
        }
        return e;
    }
}
