/*
 * A tiny Java TLS client for the keytool tests: it trusts exactly the
 * certificates of one keystore (JKS or PKCS#12, found by content), connects
 * to host:port and completes a TLS handshake.
 *
 *   javac -d DIR TlsProbe.java
 *   java -cp DIR TlsProbe HOST PORT TRUSTSTORE STOREPASS
 *
 * Prints "OK <protocol> <subject of the server certificate>" and exits 0
 * when the server's chain is trusted, or "FAIL <exception>" and exits 1.
 */
import java.io.File;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsProbe {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: TlsProbe HOST PORT TRUSTSTORE STOREPASS");
            System.exit(2);
        }
        try {
            KeyStore trust = KeyStore.getInstance(new File(args[2]), args[3].toCharArray());
            TrustManagerFactory tmf =
                TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory()
                    .createSocket(args[0], Integer.parseInt(args[1]))) {
                s.setSoTimeout(20000);
                s.startHandshake();
                X509Certificate leaf =
                    (X509Certificate) s.getSession().getPeerCertificates()[0];
                System.out.println("OK " + s.getSession().getProtocol() + " "
                    + leaf.getSubjectX500Principal());
            }
        } catch (Exception e) {
            System.out.println("FAIL " + e);
            System.exit(1);
        }
    }
}
