// A small embedded Tomcat (Debian's libtomcat10-java jars) serving one WebSocket endpoint on
// 127.0.0.1, for tests/live/test_probe_stacks.py: Tomcat's own handshake (UpgradeUtil) and its own
// permessage-deflate class (org.apache.tomcat.websocket.PerMessageDeflate) answer the probe.
//
// Usage: java -cp TOMCAT_JARS:. WsztuneProbeTomcat BASEDIR
// stdin's first line is the greeting every connection gets (then its messages are echoed);
// prints the port; stops when stdin closes. Two endpoints: "/" as Tomcat ships (compression on
// whenever offered) and "/off" with compression planted off the way an application does it, a
// ServerEndpointConfig.Configurator that negotiates no extension.

import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.Extension;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerContainer;
import jakarta.websocket.server.ServerEndpointConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.websocket.server.WsSci;

public final class WsztuneProbeTomcat {
    static String greeting = "";

    public static final class Greeter extends Endpoint {
        @Override
        public void onOpen(Session session, EndpointConfig config) {
            session.addMessageHandler(String.class, new MessageHandler.Whole<String>() {
                @Override
                public void onMessage(String message) {
                    try {
                        session.getBasicRemote().sendText(message);
                    } catch (Exception ignored) {
                        // the client left
                    }
                }
            });
            try {
                session.getBasicRemote().sendText(greeting);
            } catch (Exception ignored) {
                // the client left
            }
        }
    }

    public static final class NoExtensions extends ServerEndpointConfig.Configurator {
        @Override
        public List<Extension> getNegotiatedExtensions(
                List<Extension> installed, List<Extension> requested) {
            return new ArrayList<>();
        }
    }

    public static final class Deploy implements ServletContextListener {
        @Override
        public void contextInitialized(ServletContextEvent event) {
            ServerContainer container = (ServerContainer) event.getServletContext()
                    .getAttribute("jakarta.websocket.server.ServerContainer");
            try {
                container.addEndpoint(ServerEndpointConfig.Builder.create(Greeter.class, "/").build());
                container.addEndpoint(ServerEndpointConfig.Builder.create(Greeter.class, "/off")
                        .configurator(new NoExtensions()).build());
            } catch (Exception error) {
                throw new IllegalStateException(error);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        greeting = in.readLine();
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(args[0]);
        Connector connector = new Connector();
        connector.setPort(0);
        connector.setProperty("address", "127.0.0.1");
        tomcat.getService().addConnector(connector);
        tomcat.setConnector(connector);
        Context context = tomcat.addContext("", args[0]);
        context.addServletContainerInitializer(new WsSci(), null);
        context.addApplicationListener(Deploy.class.getName());
        // Tomcat runs its WebSocket filter only on a request mapped to some servlet.
        Tomcat.addServlet(context, "default", new org.apache.catalina.servlets.DefaultServlet());
        context.addServletMappingDecoded("/", "default");
        tomcat.start();
        System.out.println(connector.getLocalPort());
        System.out.flush();
        while (in.read() != -1) {
            // hold until the test closes stdin
        }
        tomcat.stop();
        System.exit(0);
    }
}
