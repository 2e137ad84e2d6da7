(ns pod.epiccastle.bbssh.core
  "Basic connection, execution, shell and copying functionality.

    (def s (ssh \"example.com\" {:username \"me\" :identity \"~/.ssh/id_ed25519\"}))
    (-> (exec s \"uname -a\" {:out :string}) deref :out)"
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.session :as session]
            [pod.epiccastle.bbssh.pod.session :as pod-session]
            [pod.epiccastle.bbssh.pod.exec :as pod-exec]
            [pod.epiccastle.bbssh.pod.registry :as registry]))

(def ^:private client-only-options
  #{:no-connect :port-forward-local :port-forward-remote :port-forward-dynamic :debug-fn})

(defn- pod-options
  "The options of `ssh` as the pod reads them: files as strings, key bytes
  as base64."
  [options]
  (let [{:keys [identity private-key public-key config-file connection-options]} options]
    (cond-> (apply dissoc options client-only-options)
      (instance? java.io.File identity) (assoc :identity (str identity))
      (sequential? identity) (assoc :identity (mapv str identity))
      (instance? java.io.File config-file) (assoc :config-file (str config-file))
      (bytes? private-key) (-> (dissoc :private-key)
                               (assoc :private-key-base64 (utils/encode-base64 private-key)))
      (bytes? public-key) (-> (dissoc :public-key)
                              (assoc :public-key-base64 (utils/encode-base64 public-key)))
      ;; functions of the current value are applied once the session exists
      connection-options (assoc :connection-options
                                (into {} (remove (comp fn? val)) connection-options)))))

(defn- apply-option-fns
  "Sets each :connection-options entry given as a function of the current
  value, e.g. `{:kex #(str % \",diffie-hellman-group1-sha1\")}`."
  [session connection-options]
  (doseq [[k f] connection-options
          :when (fn? f)]
    (session/set-config session k (f (session/get-config session k)))))

(defn ssh
  "Opens an SSH session to `hostname` and returns its handle, a keyword such
  as `:bbssh/session-1`. Throws ex-info with a `:type` on failure.

  Options:
  - `:port` server port [22]
  - `:username` login name [the local user]
  - `:password` password for password and keyboard-interactive auth
  - `:identity` private key file (or a vector of them); the default keys
    (~/.ssh/id_ed25519, id_ecdsa, id_rsa) and ssh-agent are tried too
  - `:passphrase` passphrase of an encrypted key
  - `:private-key` the key itself, as text or bytes
  - `:known-hosts` known_hosts file [\"~/.ssh/known_hosts\"], false for none
  - `:strict-host-key-checking` true (refuse unknown keys), false (accept
    them with a warning), `:ask` [default] or `:accept-new`
  - `:accept-host-key` for an unknown key: true or `:new` accept and
    record it, false refuses, \"SHA256:...\" accepts only that key.
    A changed key is refused, except with strict checking false (or
    `:accept-host-key true` and `:ask`): then, as OpenSSH's
    StrictHostKeyChecking=no, the session connects with a loud warning,
    without password or keyboard-interactive auth, agent or port
    forwarding, and the key is not recorded
  - `:connect-timeout` milliseconds for connect and handshake [no limit]
  - `:silence-messages` true to drop the server banner
  - `:config-file` OpenSSH client config [\"~/.ssh/config\" if it exists],
    false for none; explicit options win over it. Host patterns, HostName,
    Port, User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
    StrictHostKeyChecking, ProxyJump, ProxyCommand, ConnectTimeout,
    ConnectionAttempts,
    ServerAliveInterval/CountMax, Ciphers/KexAlgorithms/MACs/
    HostKeyAlgorithms and Local/Remote/DynamicForward are honoured
  - `:connection-options` `{:kex :cipher :mac :server-host-key}`, each a
    comma-separated list or a function of the current one
  - `:user-info` answers prompts (see `pod.epiccastle.bbssh.user-info`);
    without it bbssh asks on the terminal when there is one
  - `:proxy` `{:type :http|:socks4|:socks5 :host .. :port .. :username ..
    :password ..}` to reach the server through a proxy
  - `:jump-host` \"me@bastion:22\" (comma-separated for several hops, as
    ssh -J) or a connected session to tunnel through
  - `:keepalive-interval` ms between keepalives [off];
    `:keepalive-count-max` unanswered ones before the session is declared
    dead [3]
  - `:connection-attempts` tries of a connection the server closes before
    key exchange, as busy servers do (OpenSSH's MaxStartups) [the
    config's ConnectionAttempts, else 10], within `:connect-timeout`
  - `:channel-wait` ms a command, scp or sftp waits while the server
    refuses more sessions on the connection (OpenSSH's MaxSessions)
    [`:connect-timeout` or 60000, whichever is longer]
  - `:debug-fn` `(fn [level message])` called with each step of the
    connection (route, host key, auth methods, keepalives, the end of the
    connection), level 0 debug, 1 info, 2 warn, 3 error, as bbssh 0.6's
    `agent/set-debug-fn`; e.g. `(fn [_ m] (binding [*out* *err*] (println m)))`
  - `:no-connect` true to return the session unconnected
  - `:port-forward-local` / `:port-forward-remote` / `:port-forward-dynamic`
    vectors of forwards, maps or spec strings such as \"8080:db:5432\" (see
    `session/set-port-forwarding-local`, `-remote`, `-dynamic`), started
    after connecting; if one fails, the session is closed and ssh throws
    naming it

    (ssh \"127.0.0.1\" {:port 2222 :username \"me\" :identity \"id_ed25519\"
                        :known-hosts \"known_hosts\"})"
  [hostname & [options]]
  (let [options (or (utils/check-map "the options of ssh" options) {})
        _ (utils/check-map ":connection-options" (:connection-options options))
        _ (doseq [k [:port-forward-local :port-forward-remote :port-forward-dynamic]
                  :let [v (get options k)]]
            (when-not (or (nil? v) (sequential? v))
              (utils/bad-option k " must be a vector of forwards (maps or spec strings), got " (utils/describe v))))
        logger (some-> (:debug-fn options) utils/debug-logger)
        session (try
                  ;; freed once the script drops it and nothing uses it
                  (cleaner/register
                   (pod-session/new hostname (cond-> (pod-options options)
                                               logger (assoc :debug-log logger))))
                  (catch Exception e
                    (when logger (registry/release logger))
                    (throw e)))]
    (try
      (apply-option-fns session (:connection-options options))
      (when-not (:no-connect options)
        (session/connect session))
      (doseq [[setter specs] [[session/set-port-forwarding-local (:port-forward-local options)]
                              [session/set-port-forwarding-remote (:port-forward-remote options)]
                              [session/set-port-forwarding-dynamic (:port-forward-dynamic options)]]
              spec specs]
        (try
          (setter session spec)
          (catch Exception e
            (throw (ex-info (str "forward " (pr-str spec) " failed: " (ex-message e))
                            (assoc (ex-data e) :spec spec)
                            e)))))
      (catch Exception e
        ;; All or nothing: a session whose forwards did not all start is
        ;; closed, with the forwards that did.
        (registry/release session)
        (throw e)))
    session))

(def ^:private capture-modes #{:string :bytes})

(defn- pod-stream?
  "Whether x is the handle of a pod stream (or another pod object)."
  [x]
  (and (keyword? x) (some? (namespace x))))

(defn- check-output
  "Throws unless x is a valid :out / :err option."
  [k x]
  (when-not (or (nil? x) (#{:stream :string :bytes :discard} x) (instance? java.io.OutputStream x)
                (pod-stream? x))
    (utils/bad-option k " must be :stream, :string, :bytes, :discard, a java.io.OutputStream or a pod output stream, got "
                      (utils/describe x))))

(defn- check-input
  "Throws unless x is a valid :in option."
  [x]
  (when-not (or (nil? x) (string? x) (bytes? x) (= :stream x) (instance? java.io.InputStream x)
                (pod-stream? x)
                (and (map? x) (instance? java.io.InputStream (:out x))))
    (utils/bad-option ":in must be a string, bytes, :stream, a java.io.InputStream, a pod input stream or a process, got "
                      (utils/describe x))))

(defn- output-mode
  "How the pod should treat an :out / :err option."
  [x]
  (cond
    (capture-modes x) :capture
    (= :discard x) :discard
    :else :stream))

(defn- input-options
  "The stdin part of the pod's exec options for `in`."
  [in in-enc]
  (cond
    (nil? in) {}
    (or (string? in) (bytes? in)) {:in-data (utils/encode-base64 (utils/->bytes in in-enc))}
    (pod-stream? in) {:in-handle in} ; read in the pod
    :else {:in-stream true}))

(defn- input-source
  "The java.io.InputStream to pump into stdin, if any: `:in` itself, or the
  `:out` of a piped-in process."
  [in]
  (cond
    (instance? java.io.InputStream in) in
    (and (map? in) (instance? java.io.InputStream (:out in))) (:out in)
    :else nil))

(defn- output-value
  "What the record holds for an :out / :err option before deref: the
  stream's bytes, read from a data channel (a loopback socket) so that
  bulk output does not go through the pod protocol."
  [handle stream mode]
  (if (or (nil? mode) (= :stream mode) (instance? java.io.OutputStream mode))
    (.getInputStream (utils/data-channel (pod-exec/channel handle stream)))
    nil))

(defn- output-handles
  "The pod's exec options for :out / :err given as pod output streams,
  which the pod fills itself."
  [out err]
  (cond-> {}
    (pod-stream? out) (assoc :out-handle out)
    (pod-stream? err) (assoc :err-handle err)))

(defn- decode-output [mode ^String b64 enc]
  (case mode
    :string (String. ^bytes (utils/decode-base64 b64) ^String enc)
    :bytes (utils/decode-base64 b64)
    nil))

(defrecord SshProcess [channel exit in out err prev cmd]
  clojure.lang.IDeref
  (deref [this]
    (let [{:keys [result]} (meta this)]
      (merge this @result))))

(defn exec
  "Runs `command` on a session and returns an `SshProcess` record at once.
  Deref it to wait for the exit: `@(exec s \"exit 3\")` gives a map with
  `:exit 3`.

  The first argument is a session, or a process map (a babashka.process
  process or another SshProcess) whose `:out` becomes this command's stdin;
  the session then comes from `:session`.

  The record's `:channel` is a channel-exec handle of the command, as in
  bbssh 0.6: `channel-exec/is-closed`, `is-connected`, `get-exit-status`,
  `wait` (with a timeout in ms, nil while it runs), `send-signal` and
  `disconnect` work on it.

  Options:
  - `:session` the session, when the first argument is a process
  - `:in` stdin: nil [none], a string (encoded with `:in-enc` [\"utf-8\"]),
    bytes, `:stream` (the record's `:in` is then an OutputStream to write
    and close), a java.io.InputStream, or a pod input stream (such as
    `input-stream/new`'s), read to its end and then closed
  - `:out` / `:err`: `:stream` [default; the record holds a
    java.io.InputStream], `:string`, `:bytes` (the value after deref),
    `:discard`, a java.io.OutputStream to copy into (filled by deref), or
    a pod output stream (such as `byte-array-output-stream/new`'s), filled
    in the pod and closed at the end (deref waits for it)
  - `:out-enc` / `:err-enc` [\"utf-8\"]
  - `:pty` true, or `{:term \"xterm\" :cols 80 :rows 24}`
  - `:env` map of environment variables (the server must accept them)
  - `:agent-forwarding` true to forward the local ssh-agent

    (-> (exec s \"echo hi\" {:out :string}) deref :out) ;; => \"hi\\n\""
  [session-or-process command & [options]]
  (let [{:keys [in in-enc out err out-enc err-enc pty env agent-forwarding]
         :or {in-enc "utf-8" out-enc "utf-8" err-enc "utf-8"}
         :as options} (or (utils/check-map "the options of exec" options) {})
        piped? (map? session-or-process)
        _ (do (check-output :out out)
              (check-output :err err)
              (when-not piped? (check-input in))
              (utils/check-charset ":in-enc" in-enc)
              (utils/check-charset ":out-enc" out-enc)
              (utils/check-charset ":err-enc" err-enc))
        session (if piped? (:session options) (or (:session options) session-or-process))
        _ (when-not session
            (throw (ex-info "exec needs a session: pass one first or as :session"
                            {:type :bbssh/bad-argument})))
        in (if piped? session-or-process in)
        source (input-source in)
        handle (cleaner/register
                (pod-exec/start session command
                               (cond-> (merge {:out (output-mode out) :err (output-mode err)}
                                              (if source {:in-stream true} (input-options in in-enc))
                                              (output-handles out err))
                                 pty (assoc :pty pty)
                                 env (assoc :env env)
                                 agent-forwarding (assoc :agent-forwarding true))))
        in-channel (when (or (= :stream in) source)
                     (utils/data-channel (pod-exec/channel handle :in)))
        ;; closing the socket's stream ends the command's stdin
        in-value (when (= :stream in) (.getOutputStream ^java.net.Socket in-channel))
        pump-in (when source
                  (future
                    (let [out (.getOutputStream ^java.net.Socket in-channel)]
                      (try
                        (utils/copy-stream source #(.write out ^bytes %))
                        (finally (.close out))))))
        out-stream (output-value handle :out out)
        err-stream (output-value handle :err err)
        pump-out (fn [target ^java.io.InputStream from]
                   (when (instance? java.io.OutputStream target)
                     (future
                       (utils/copy-stream from #(.write ^java.io.OutputStream target ^bytes %))
                       (.flush ^java.io.OutputStream target))))
        out-pump (pump-out out out-stream)
        err-pump (pump-out err err-stream)
        result (delay
                 (let [res (pod-exec/wait handle)]
                   (when pump-in @pump-in)
                   (when out-pump @out-pump)
                   (when err-pump @err-pump)
                   (cond-> {:exit (:exit res)}
                     (:signal res) (assoc :signal (:signal res))
                     (capture-modes out) (assoc :out (decode-output out (:out res) out-enc))
                     (capture-modes err) (assoc :err (decode-output err (:err res) err-enc)))))]
    (with-meta
      ;; :channel is a channel-exec handle, as in bbssh 0.6: the
      ;; channel-exec functions that look at or end a running command
      ;; work on it, and the pod's exec vars take it as the process
      (->SshProcess (cleaner/register (pod-exec/channel-exec handle))
                    nil
                    (if (pod-stream? in) in in-value)
                    (cond
                      (capture-modes out) (future (:out @result))
                      (or (instance? java.io.OutputStream out) (pod-stream? out)) out
                      :else out-stream)
                    (cond
                      (capture-modes err) (future (:err @result))
                      (or (instance? java.io.OutputStream err) (pod-stream? err)) err
                      :else err-stream)
                    (when piped? session-or-process)
                    command)
      {:result result})))
