/*
 * A tiny Java TLS client for the integration tests: GETs a URL over HTTPS
 * trusting only the certificates of one trust store (cert.jks and the
 * password in cert.pass, the reference clients' certs folder), with Java's
 * own host name check.
 *
 *   javac -d DIR tests/data/java/JavaTlsClient.java
 *   java -cp DIR JavaTlsClient URL TRUSTSTORE PASSFILE
 *
 * Prints "HTTP <status>" and exits 0 when a verified connection answered;
 * prints "TLS: <reason>" and exits 3 when the handshake or the
 * verification failed; exits 2 on bad arguments.
 */
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

public class JavaTlsClient {
	public static void main(String[] args) throws Exception {
		if (args.length != 3) {
			System.err.println("usage: JavaTlsClient URL TRUSTSTORE PASSFILE");
			System.exit(2);
		}
		String pass = new String(Files.readAllBytes(Paths.get(args[2])), StandardCharsets.UTF_8)
			.split("\r?\n")[0];
		KeyStore ts = KeyStore.getInstance(KeyStore.getDefaultType()); /* reads JKS and PKCS12 */
		try (InputStream in = new FileInputStream(args[1])) {
			ts.load(in, pass.toCharArray());
		}
		TrustManagerFactory tmf = TrustManagerFactory.getInstance(
			TrustManagerFactory.getDefaultAlgorithm());
		tmf.init(ts); /* only this store: not the JDK's cacerts */
		SSLContext ctx = SSLContext.getInstance("TLS");
		ctx.init(null, tmf.getTrustManagers(), null);
		HttpsURLConnection c = (HttpsURLConnection) new URL(args[0]).openConnection();
		c.setSSLSocketFactory(ctx.getSocketFactory());
		c.setConnectTimeout(10000);
		c.setReadTimeout(10000);
		try {
			int status = c.getResponseCode();
			System.out.println("HTTP " + status + " " + c.getCipherSuite());
		} catch (SSLException e) {
			System.out.println("TLS: " + e.getMessage());
			System.exit(3);
		}
	}
}
