;; Secure defaults against the real sshd: listeners bind loopback unless
;; asked (checked by connecting through 127.0.0.2 and ::1, and with ss),
;; remote forwards the server binds on loopback only, known_hosts written
;; atomically with 0600 keeping what was there, and no secret (password,
;; passphrase, private key) in any error, ex-data, :debug-fn message or
;; line the pod logs with BBSSH_DEBUG=1. Host key policy (unknown and
;; changed keys refused) is auth_test.clj's.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.security-test
  (:require [babashka.pods :as pods]
            [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]])
  (:import [java.net InetAddress InetSocketAddress Socket ServerSocket]
           [java.nio.file Files LinkOption Path]
           [java.nio.file.attribute PosixFilePermissions]))

;; The pod runs with its protocol log on and its stderr in a file, which
;; the secrets test reads.
(def dir (n/temp-dir))
(def pod-log (str dir "/pod-stderr.log"))
(def wrapper (str dir "/bbssh-logged"))
(spit wrapper (str "#!/bin/sh\nBBSSH_DEBUG=1 exec '" (c/env "BBSSH_POD") "' \"$@\" 2>>'" pod-log "'\n"))
(.setExecutable (io/file wrapper) true)
(pods/load-pod wrapper (when (= :socket c/transport) {:transport :socket}))
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.user-info :as user-info])

(def s (bbssh/ssh c/host (c/opts)))
(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))

(defn path ^Path [p] (Path/of (str p) (make-array String 0)))

(defn mode [p]
  (PosixFilePermissions/toString (Files/getPosixFilePermissions (path p) (make-array LinkOption 0))))

(defn reachable?
  "Whether a TCP connection to address:port is accepted within 2 s."
  [address port]
  (try (with-open [sock (Socket.)]
         (.connect sock (InetSocketAddress. (InetAddress/getByName address) (int port)) 2000)
         true)
       (catch java.io.IOException _ false)))

(defn listening
  "The local addresses with a TCP listener on port, as ss shows them; nil
  without ss."
  [port]
  (try
    (let [p (.start (ProcessBuilder. ["ss" "-Hltn" (str "sport = :" port)]))
          out (slurp (.getInputStream p))]
      (.waitFor p)
      (set (for [line (str/split-lines out)
                 :let [cols (str/split (str/trim line) #"\s+")]
                 :when (>= (count cols) 4)]
             (str/replace (nth cols 3) (re-pattern (str ":" port "$")) ""))))
    (catch java.io.IOException _ nil)))

;; ---------------------------------------------------------------- binding

(deftest local-listeners-bind-loopback-unless-asked
  (let [port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})
        socks (session/set-port-forwarding-dynamic s {:local-port 0})]
    (doseq [p [port socks]]
      (is (reachable? "127.0.0.1" p))
      (is (not (reachable? "127.0.0.2" p)) "not on the rest of 127.0.0.0/8")
      (is (not (reachable? "::1" p)) "not on IPv6")
      (when-let [addrs (listening p)]
        (is (= #{"127.0.0.1"} addrs) "ss shows one listener, on 127.0.0.1")))
    (is (n/round-trip "127.0.0.1" port 100000 1))
    (session/delete-port-forwarding-local s {:local-port port})
    (session/delete-port-forwarding-dynamic s {:local-port socks}))
  (testing "asked for every interface, it does (so the checks above can fail)"
    (let [port (session/set-port-forwarding-local s {:bind-address "*" :local-port 0 :remote-host "127.0.0.1" :remote-port echo-port})]
      (is (reachable? "127.0.0.2" port))
      (is (reachable? "::1" port))
      (session/delete-port-forwarding-local s {:bind-address "*" :local-port port}))))

(deftest remote-listeners-bind-loopback-unless-asked
  ;; the test sshd has GatewayPorts clientspecified: it binds what the
  ;; pod asks for, so this checks what the pod asks
  (doseq [opts [{} {:bind-address "127.0.0.1"} {:bind-address "localhost"}]]
    (let [rport (session/set-port-forwarding-remote s (merge {:remote-port 0 :local-port echo-port} opts))]
      (is (reachable? "127.0.0.1" rport) (pr-str opts))
      (is (not (reachable? "127.0.0.2" rport)) (str "not reachable through 127.0.0.2 with " (pr-str opts)))
      (when-let [addrs (listening rport)]
        (is (every? #{"127.0.0.1" "[::1]"} addrs) (str "loopback only: " addrs)))
      (is (n/round-trip "127.0.0.1" rport 100000 2))
      (session/delete-port-forwarding-remote s {:remote-port rport})))
  (testing "asked for every interface, the server does"
    (let [rport (session/set-port-forwarding-remote s {:bind-address "*" :remote-port 0 :local-port echo-port})]
      (is (reachable? "127.0.0.2" rport))
      (session/delete-port-forwarding-remote s {:remote-port rport}))))

;; ---------------------------------------------------------------- known_hosts

(defn inode [p] (Files/getAttribute (path p) "unix:ino" (make-array LinkOption 0)))

(deftest known-hosts-written-atomically-with-0600
  (testing "a new file in a new directory"
    (let [kh (str dir "/new/.ssh/known_hosts")]
      (is (= "ok\n" (-> (bbssh/exec (bbssh/ssh c/host (c/opts {:known-hosts kh :accept-host-key true})) "echo ok" {:out :string}) deref :out)))
      (is (= "rw-------" (mode kh)))
      (is (= "rwx------" (mode (str dir "/new/.ssh"))))
      (is (str/includes? (slurp kh) (str "[127.0.0.1]:" c/port " ")))))
  (testing "an existing file keeps its entries and is replaced whole"
    (let [kh (str dir "/existing_known_hosts")
          others (str "# my hosts\n"
                      "[example.invalid]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvTn+K5GmwBzKb/Le11lRE1KxW+uzUBxCVJcWtMDwvI\n"
                      "other.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk3WJKbVyZZ0bJxMNh8ifHKmWBpy36GILAjrlaFdMtd")]
      (spit kh others) ; no final newline: the new entry must still start a line
      (Files/setPosixFilePermissions (path kh) (PosixFilePermissions/fromString "rw-------"))
      (let [before (inode kh)]
        (bbssh/ssh c/host (c/opts {:known-hosts kh :accept-host-key :new}))
        (let [lines (str/split-lines (slurp kh))]
          (is (= (str/split-lines others) (take 3 lines)) "the entries that were there are kept, in order")
          (is (= 4 (count lines)))
          (is (str/starts-with? (last lines) (str "[127.0.0.1]:" c/port " "))))
        (is (not= before (inode kh)) "a new file was renamed into place, not the old one appended to")
        (is (= "rw-------" (mode kh)))
        (is (= #{"existing_known_hosts"} (set (filter #(str/includes? % "known_hosts") (.list (io/file dir)))))
            "no temporary file is left behind"))))
  (testing "a known_hosts that is a symlink stays one; its target is updated"
    (let [target (str dir "/dotfiles_known_hosts")
          link (str dir "/linked_known_hosts")]
      (spit target "other.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk3WJKbVyZZ0bJxMNh8ifHKmWBpy36GILAjrlaFdMtd\n")
      (Files/setPosixFilePermissions (path target) (PosixFilePermissions/fromString "rw-------"))
      (Files/createSymbolicLink (path link) (path target) (make-array java.nio.file.attribute.FileAttribute 0))
      (bbssh/ssh c/host (c/opts {:known-hosts link :accept-host-key true}))
      (is (Files/isSymbolicLink (path link)))
      (is (= 2 (count (str/split-lines (slurp target)))))
      (is (= "rw-------" (mode target))))))

;; ---------------------------------------------------------------- secrets

(def wrong-password "Wr0ng-Passw0rd-7731")
(def wrong-passphrase "Wr0ng-Passphrase-4417")
(def numeric-password 987654321)
(def proxy-password "Pr0xy-Secret-9902")
(def user-info-password "Ui-Secret-Wrong-3310")
(def set-password-secret "Set-Secret-Wrong-6621")
(def garbage-key-secret "GarbageKeyMaterialSecret5521")
(def identity-text (slurp (c/env "BBSSH_TEST_IDENTITY")))
(def encrypted-text (slurp (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED")))

(defn key-lines
  "The base64 lines of a private key: any of them showing is a leak."
  [text]
  (remove #(or (str/starts-with? % "-----") (< (count %) 20)) (str/split-lines text)))

(def secrets
  (concat [(c/env "BBSSH_TEST_PASSWORD") (c/env "BBSSH_TEST_PASSPHRASE") wrong-password wrong-passphrase
           (str numeric-password) proxy-password user-info-password set-password-secret garbage-key-secret]
          (key-lines identity-text)
          (key-lines encrypted-text)))

(defn http-proxy-407
  "An HTTP proxy that answers every CONNECT with 407; returns the
  ServerSocket."
  []
  (let [server (ServerSocket. 0 50 (InetAddress/getByName "127.0.0.1"))]
    (future
      (loop []
        (when-let [sock (try (.accept server) (catch Exception _ nil))]
          (with-open [sock sock]
            (let [in (io/reader (.getInputStream sock))]
              (loop [] (when-not (str/blank? (.readLine in)) (recur)))
              (.write (.getOutputStream sock)
                      (.getBytes "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n"))))
          (recur))))
    server))

(defn socks5-refusing
  "A SOCKS5 proxy that asks for a username and password and refuses them."
  []
  (let [server (ServerSocket. 0 50 (InetAddress/getByName "127.0.0.1"))]
    (future
      (loop []
        (when-let [sock (try (.accept server) (catch Exception _ nil))]
          (with-open [sock sock]
            (let [in (java.io.DataInputStream. (.getInputStream sock))
                  out (.getOutputStream sock)]
              (.readNBytes in (int (second [(.readUnsignedByte in) (.readUnsignedByte in)])))
              (.write out (byte-array [5 2]))
              (.readUnsignedByte in)
              (.readNBytes in (.readUnsignedByte in))
              (.readNBytes in (.readUnsignedByte in))
              (.write out (byte-array [1 1]))))
          (recur))))
    server))

(defn bare
  "Options with no key, agent or default identity, merged with m."
  [m]
  (merge {:port c/port :username c/user :known-hosts (c/env "BBSSH_TEST_KNOWN_HOSTS") :no-agent true
          :identities-only true :config-file false :connect-timeout 20000}
         m))

(deftest no-secret-in-errors-ex-data-or-logs
  (let [said (atom [])
        debug-fn (fn [level message] (swap! said conj (str level " " message)))
        failure (fn [what f]
                  (let [t0 (System/nanoTime)
                        e (try (f) nil (catch Exception e e))]
                    (println (format "    %s: %.1f s" what (/ (- (System/nanoTime) t0) 1e9)))
                    (is (some? e) (str what " failed"))
                    (when e
                      (loop [e e]
                        (when e
                          (swap! said conj (str what ": " (ex-message e) " " (pr-str (ex-data e))))
                          (recur (ex-cause e)))))))
        ok (fn [what f] (is (= "ok\n" (-> (bbssh/exec (f) "echo ok" {:out :string}) deref :out)) what))
        http (http-proxy-407)
        socks (socks5-refusing)]
    ;; successful logins with every kind of secret
    (ok "password" #(bbssh/ssh c/host (bare {:password (c/env "BBSSH_TEST_PASSWORD") :debug-fn debug-fn})))
    (ok "passphrase" #(bbssh/ssh c/host (bare {:identity (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED")
                                               :passphrase (c/env "BBSSH_TEST_PASSPHRASE") :debug-fn debug-fn})))
    (ok "private key text" #(bbssh/ssh c/host (bare {:private-key identity-text :debug-fn debug-fn})))
    (ok "encrypted private key text" #(bbssh/ssh c/host (bare {:private-key encrypted-text :passphrase (c/env "BBSSH_TEST_PASSPHRASE")
                                                               :debug-fn debug-fn})))
    ;; and failures, at once: a wrong password costs seconds in sshd
    (run! deref
          [(future (failure "wrong password" #(bbssh/ssh c/host (bare {:password wrong-password :debug-fn debug-fn}))))
           (future (failure "wrong passphrase" #(bbssh/ssh c/host (bare {:identity (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED")
                                                                          :passphrase wrong-passphrase :debug-fn debug-fn}))))
           (future (failure "wrong passphrase, key as text" #(bbssh/ssh c/host (bare {:private-key encrypted-text :passphrase wrong-passphrase}))))
           (future (failure "encrypted key text, no passphrase" #(bbssh/ssh c/host (bare {:private-key encrypted-text}))))
           (future (failure "garbage key" #(bbssh/ssh c/host (bare {:private-key (str "-----BEGIN OPENSSH PRIVATE KEY-----\n" garbage-key-secret
                                                                                      "\n-----END OPENSSH PRIVATE KEY-----\n")}))))
           (future (failure "garbage key, not PEM" #(bbssh/ssh c/host (bare {:private-key garbage-key-secret}))))
           (future (failure "key as public key" #(bbssh/ssh c/host (bare {:private-key identity-text :public-key identity-text}))))
           (future (failure "numeric password" #(bbssh/ssh c/host (bare {:password numeric-password}))))
           (future (failure "numeric passphrase" #(bbssh/ssh c/host (bare {:identity (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED")
                                                                            :passphrase numeric-password}))))
           (future (failure "numeric private key" #(bbssh/ssh c/host (bare {:private-key numeric-password}))))
           (future (failure "user-info password" #(bbssh/ssh c/host (bare {:user-info (user-info/new {:get-password (fn [] user-info-password)})}))))
           (future (failure "set-password" #(let [s2 (bbssh/ssh c/host (bare {:no-connect true :debug-fn debug-fn}))]
                                              (session/set-password s2 set-password-secret)
                                              (session/connect s2))))
           (future (failure "set-password with a number" #(let [s2 (bbssh/ssh c/host (bare {:no-connect true}))]
                                                            (session/set-password s2 numeric-password))))
           (future (failure "http proxy password" #(bbssh/ssh c/host (bare {:password wrong-password :debug-fn debug-fn
                                                                           :proxy {:type :http :host "127.0.0.1" :port (.getLocalPort http)
                                                                                   :username "u" :password proxy-password}}))))
           (future (failure "socks5 proxy password" #(bbssh/ssh c/host (bare {:debug-fn debug-fn
                                                                             :proxy {:type :socks5 :host "127.0.0.1" :port (.getLocalPort socks)
                                                                                     :username "u" :password proxy-password}}))))
           (future (failure "numeric proxy password" #(bbssh/ssh c/host (bare {:proxy {:type :socks5 :host "127.0.0.1" :port 1
                                                                                      :username "u" :password numeric-password}}))))])
    (.close http)
    (.close socks)
    (Thread/sleep 300) ; the last log lines
    (let [log (slurp pod-log)
          texts (conj @said log)]
      (println (format "  checked %d errors and log messages and %d bytes of pod stderr for %d secrets"
                       (count @said) (count log) (count secrets)))
      (when (System/getenv "BBSSH_SECURITY_SHOW") (run! println texts)) ; to see what was checked
      (is (some #(str/includes? % "auth") @said) "the debug-fn and errors were captured")
      (is (seq @said))
      (doseq [secret secrets
              text texts
              :when (str/includes? text secret)]
        (is false (str "a secret shows in: " text))))))

(c/run-tests-and-exit 'e2e.security-test)
