(ns pod.epiccastle.bbssh.session
  "Operations on a session: connect, disconnect, state.

  A session is the handle returned by `pod.epiccastle.bbssh.core/ssh`, a
  keyword such as `:bbssh/session-1`."
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.session :as pod-session]
            [pod.epiccastle.bbssh.pod.forward :as pod-forward]))

(defn connect
  "Connects `session` (made with `:no-connect true`). `timeout` is in
  milliseconds; nil or 0 means no limit. Throws ex-info with a `:type` such
  as `:bbssh/auth-failed`, `:bbssh/host-key-unknown`, `:bbssh/connect-failed`.

    (session/connect s 10000)"
  ([session] (connect session nil))
  ([session timeout]
   (pod-session/connect session timeout)
   nil))

(defn disconnect
  "Closes the session's connection, with every command and forward on it.
  The session can be connected again with `connect`.

    (session/disconnect s)"
  [session]
  (pod-session/disconnect session)
  nil)

(defn connected?
  "True while the session has a live connection.

    (session/connected? s) ;; => true"
  [session]
  (true? (pod-session/connected? session)))

(defn- config-key [k]
  (if (keyword? k) (name k) (str k)))

(defn set-config
  "Sets a connection setting for the next `connect`. Keys, as keywords or
  JSch's names: `:strict-host-key-checking` (\"yes\" \"no\" \"ask\"
  \"accept-new\", or a boolean), `:kex`, `:server-host-key`, `:cipher`
  (`:cipher-s2c`, `:cipher-c2s`), `:mac` (`:mac-s2c`, `:mac-c2s`), whose
  values are comma-separated algorithm lists (\"+name\" appends to the
  defaults, \"-name\" removes, \"^name\" puts first).

    (session/set-config s :cipher \"aes256-gcm@openssh.com\")"
  [session key value]
  (pod-session/set-config session (config-key key) value)
  nil)

(defn set-configs
  "Calls `set-config` for every entry of the map.

    (session/set-configs s {:cipher \"aes256-ctr\" :kex \"curve25519-sha256\"})"
  [session settings]
  (utils/check-map "the settings of set-configs" settings)
  (doseq [[k v] settings]
    (set-config session k v))
  nil)

(defn get-config
  "The current value of a setting as a string; algorithm lists show the
  defaults until set.

    (session/get-config s :cipher) ;; => \"aes128-gcm@openssh.com,...\""
  [session key]
  (pod-session/get-config session (config-key key)))

(defn set-password
  "Sets the password used by the next `connect`.

    (session/set-password s (System/getenv \"SSH_PASSWORD\"))"
  [session password]
  (pod-session/set-password session password)
  nil)

(defn set-user-info
  "Sets the user-info (see `pod.epiccastle.bbssh.user-info/new`) that
  answers the next `connect`'s questions.

    (session/set-user-info s (user-info/new {:get-password #(System/getenv \"PW\")}))"
  [session user-info]
  (pod-session/set-user-info session user-info)
  nil)

(defn set-host
  "Sets the host the next `connect` goes to.

    (session/set-host s \"backup.example.com\")"
  [session host]
  (pod-session/set-host session host)
  nil)

(defn set-port
  "Sets the port the next `connect` goes to.

    (session/set-port s 2222)"
  [session port]
  (pod-session/set-port session port)
  nil)

(defn set-proxy
  "Reaches the server through a proxy from the next `connect`:
  `{:type :http|:socks4|:socks5 :host \"proxy\" :port 3128 :username .. :password ..}`.

    (session/set-proxy s {:type :socks5 :host \"127.0.0.1\" :port 1080})"
  [session proxy]
  (pod-session/set-proxy session proxy)
  nil)

(defn- with-stats [{:keys [forward stats]}]
  (with-meta forward stats))

(defn set-port-forwarding-local
  "Listens on the local machine and forwards every connection through the
  session to a host and port (or unix socket) reached from the server, like
  `ssh -L`. Returns the local port bound.

  `opts` is a map or an `ssh -L` spec string such as \"8080:db:5432\",
  \"127.0.0.1:0:db:5432\" or \"/tmp/d.sock:/var/run/docker.sock\". Keys:
  `:bind-address` [\"127.0.0.1\"; \"*\" or \"\" for every interface,
  \"0.0.0.0\" every IPv4 one, IPv6 addresses such as \"::1\"],
  `:local-port` (0 picks a free port) or `:local-unix-socket` (created
  mode 0600), `:remote-host` + `:remote-port` or `:remote-unix-socket`,
  `:connect-timeout` ms to open the remote end [no limit] (also spelt
  `:connection-timeout`, as bbssh 0.6 scripts do).

    (set-port-forwarding-local s {:local-port 8080 :remote-host \"db\" :remote-port 5432})
    (set-port-forwarding-local s \"8080:db:5432\")"
  [session opts]
  (pod-forward/forward-local session opts))

(defn delete-port-forwarding-local
  "Stops the local forward listening on `:local-port` (and `:bind-address`,
  if given) or `:local-unix-socket`; a spec string names its listening end.
  Open connections finish unless `:close-active true`.

    (session/delete-port-forwarding-local s {:local-port 8080})"
  [session opts]
  (pod-forward/unforward-local session opts)
  nil)

(defn get-port-forwarding-local
  "The session's local forwards, e.g.
  `[{:local-port 8080, :remote-host \"db\", :remote-port 5432}]`. Each map's
  metadata holds its figures: `:state` (`:open` or `:closed`)
  `:active-connections :total-connections :bytes-in :bytes-out
  :last-error`. A forward that died with the session's connection stays
  listed, with `:closed` saying why, until deleted or reconnected.

    (session/get-port-forwarding-local s)
    ;; => [{:local-port 8080, :remote-host \"db\", :remote-port 5432}]
    (meta (first (session/get-port-forwarding-local s)))
    ;; => {:state :open, :active-connections 0, :total-connections 3, ...}"
  [session]
  (mapv with-stats (pod-forward/forwards-local session)))

(defn set-port-forwarding-dynamic
  "Runs a SOCKS proxy (SOCKS5, SOCKS4 and SOCKS4a; CONNECT) on the local
  machine whose connections go out from the server, like `ssh -D`. Returns
  the local port bound.

  `opts` is a map or an `ssh -D` spec string (\"1080\", \"127.0.0.1:0\").
  Keys: `:bind-address` [\"127.0.0.1\"], `:local-port` (0 picks a free
  port), `:connect-timeout` ms to open each target [no limit].

    (set-port-forwarding-dynamic s {:local-port 1080})
    ;; curl --socks5-hostname 127.0.0.1:1080 http://intranet/"
  [session opts]
  (pod-forward/forward-dynamic session opts))

(defn delete-port-forwarding-dynamic
  "Stops the SOCKS proxy listening on `:local-port` (and `:bind-address`,
  if given). Open connections finish unless `:close-active true`.

    (session/delete-port-forwarding-dynamic s {:local-port 1080})"
  [session opts]
  (pod-forward/unforward-dynamic session opts)
  nil)

(defn get-port-forwarding-dynamic
  "The session's SOCKS proxies, with figures as metadata as for
  `get-port-forwarding-local`.

    (session/get-port-forwarding-dynamic s) ;; => [{:local-port 1080}]"
  [session]
  (mapv with-stats (pod-forward/forwards-dynamic session)))

(defn- serve-connection
  "Runs a remote forward's handler on one connection, then closes it."
  [handler {:keys [conn] :as event}]
  ;; the connection's bytes travel on a loopback data channel
  (let [sock (utils/data-channel (pod-forward/conn-channel conn))
        in (.getInputStream sock)
        raw-out (.getOutputStream sock)
        out (proxy [java.io.OutputStream] []
              (write
                ([b] (if (bytes? b) (.write raw-out ^bytes b) (.write raw-out (int b))))
                ([bs off len] (.write raw-out ^bytes bs (int off) (int len))))
              (flush [] (.flush raw-out))
              ;; closing :out half-closes: the peer reads end of file
              (close [] (.flush raw-out) (.shutdownOutput sock)))]
    (try
      (handler (-> event (dissoc :event :conn) (assoc :in in :out out)))
      (catch Throwable e
        (binding [*out* *err*]
          (println "bbssh: remote forward handler failed:" (ex-message e))))
      (finally
        (try (.close sock) (catch Exception _ nil))
        (try (pod-forward/conn-close conn) (catch Exception _ nil))))))

(defn- serve-remote
  "Starts a remote forward whose connections `handler` serves; returns the
  port bound."
  [session opts handler]
  (let [bound (promise)]
    (pods/invoke "pod.epiccastle.bbssh"
                 'pod.epiccastle.bbssh.pod.forward/serve-remote
                 [session opts]
                 {:handlers {:success (fn [{:keys [event] :as ev}]
                                        (case event
                                          :bound (deliver bound (:port ev))
                                          :connection (future (serve-connection handler ev))
                                          nil))
                             :error (fn [{:keys [ex-message ex-data]}]
                                      (deliver bound (ex-info ex-message ex-data)))
                             :done (fn []
                                     (deliver bound (ex-info "the remote forward ended before it was bound"
                                                             {:type :bbssh/forward-failed})))}})
    (let [result @bound]
      (if (instance? Throwable result)
        (throw result)
        result))))

(defn set-port-forwarding-remote
  "Asks the server to listen and forwards every connection it gets to a
  host and port (or unix socket) reached from this machine, like `ssh -R`.
  Returns the remote port bound (useful with `:remote-port 0`).

  `opts` is a map or an `ssh -R` spec string (\"8080:localhost:3000\"; a
  lone \"[bind:]port\" is a SOCKS proxy on the server whose connections go
  out from here). Keys: `:bind-address` [\"127.0.0.1\"; subject to the
  server's GatewayPorts], `:remote-port` or `:remote-unix-socket`,
  `:local-host` [\"127.0.0.1\"] + `:local-port` or `:local-unix-socket`,
  `:connect-timeout` ms for the local dial, `:dynamic true` for the SOCKS
  proxy, or `:handler` a function that serves each connection itself: it
  gets `{:in InputStream :out OutputStream :remote-port p :origin-address a
  :origin-port p}` on its own thread, and the connection closes when it
  returns (closing `:out` half-closes it earlier).

    (set-port-forwarding-remote s {:remote-port 8080 :local-port 3000})
    (set-port-forwarding-remote s {:remote-port 0
                                   :handler (fn [{:keys [in out]}]
                                              (clojure.java.io/copy in out))})"
  [session opts]
  (when (and (map? opts) (some? (:handler opts)) (not (fn? (:handler opts))))
    (utils/bad-option ":handler must be a function, got " (utils/describe (:handler opts))))
  (if (and (map? opts) (:handler opts))
    (serve-remote session (dissoc opts :handler) (:handler opts))
    (pod-forward/forward-remote session opts)))

(defn delete-port-forwarding-remote
  "Stops the remote forward listening on `:remote-port` (and
  `:bind-address`, if given) or `:remote-unix-socket`.

    (session/delete-port-forwarding-remote s {:remote-port 8080})"
  [session opts]
  (pod-forward/unforward-remote session opts)
  nil)

(defn get-port-forwarding-remote
  "The session's remote forwards, with figures as metadata as for
  `get-port-forwarding-local`. A forward served by a `:handler` shows
  `:handler true`; a SOCKS one `:dynamic true`.

    (session/get-port-forwarding-remote s)
    ;; => [{:remote-port 8080, :local-host \"127.0.0.1\", :local-port 3000}]"
  [session]
  (mapv with-stats (pod-forward/forwards-remote session)))

(defn open-channel
  "Makes an unconnected channel on a connected session, for the
  `pod.epiccastle.bbssh.channel-exec` functions. Only `\"exec\"` channels
  exist; other types throw `:bbssh/unsupported`.

    (def ch (session/open-channel s \"exec\"))"
  [session type]
  (cleaner/register (pod-session/open-channel session type)))

(defn set-identity-repository
  "Offers the identities of a repository (see
  `pod.epiccastle.bbssh.identity-repository`, `ssh-agent`) from the next
  `connect`, with the session's other keys; nil drops it.

    (session/set-identity-repository s (ssh-agent/new-identity-repository))"
  [session identity-repository]
  (pod-session/set-identity-repository session identity-repository)
  nil)

(defn set-host-key-repository
  "Checks server keys with a host key repository (see
  `pod.epiccastle.bbssh.host-key-repository`) from the next `connect`,
  instead of known_hosts files.

    (session/set-host-key-repository s (known-hosts/new \"/tmp/known_hosts\"))"
  [session host-key-repository]
  (pod-session/set-host-key-repository session host-key-repository)
  nil)
