;; Authentication, host keys, user-info callbacks, session settings,
;; ssh_config, proxies, jump hosts and keepalive against the real sshd.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.auth-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.user-info :as user-info])

(def password (c/env "BBSSH_TEST_PASSWORD"))
(def known-hosts (c/env "BBSSH_TEST_KNOWN_HOSTS"))
(def identity-file (c/env "BBSSH_TEST_IDENTITY"))

(defn echo-ok [s]
  (-> (bbssh/exec s "echo ok" {:out :string}) deref :out))

(defn bare-opts
  "Options with no key at all: no identity, agent or default keys."
  [m]
  (merge {:port c/port :username c/user :known-hosts known-hosts :no-agent true
          :identities-only true :config-file false}
         m))

(defn sh [& args]
  (let [p (.start (doto (ProcessBuilder. ^java.util.List (vec args)) (.redirectErrorStream true)))
        out (slurp (.getInputStream p))]
    {:exit (.waitFor p) :out out}))

(deftest password-and-keyboard-interactive
  (is (= "ok\n" (echo-ok (bbssh/ssh c/host (bare-opts {:password password})))))
  (let [e (ex #(bbssh/ssh c/host (bare-opts {:password "wrong"})))]
    (is (= :bbssh/auth-failed (-> e :data :type)))
    (is (re-find #"password" (:message e)))))

(deftest user-info-answers-the-password
  (let [asked (atom [])
        ui (user-info/new {:get-password (fn [] (swap! asked conj :get-password) password)
                           :prompt-password (fn [msg] (swap! asked conj msg) true)})]
    (is (keyword? ui))
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (bare-opts {:user-info ui})))))
    (is (some #{:get-password} @asked))
    (is (some #(and (string? %) (re-find #"Password for bbsshtest@" %)) @asked)))
  (testing "a callback that throws fails the connection instead of hanging it"
    (let [ui (user-info/new {:get-password (fn [] (throw (ex-info "no vault" {})))})
          e (ex #(bbssh/ssh c/host (bare-opts {:user-info ui :connect-timeout 20000})))]
      (is (= :bbssh/auth-failed (-> e :data :type)))))
  (testing ":prompt-password false cancels"
    (let [ui (user-info/new {:prompt-password (fn [_] false) :get-password (fn [] password)})]
      (is (= :bbssh/auth-failed (-> (ex #(bbssh/ssh c/host (bare-opts {:user-info ui}))) :data :type))))))

(deftest passphrase-of-an-encrypted-key
  (let [opts (bare-opts {:identity (c/env "BBSSH_TEST_IDENTITY_ENCRYPTED")})]
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (assoc opts :passphrase (c/env "BBSSH_TEST_PASSPHRASE"))))))
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (assoc opts :user-info (user-info/new {:get-passphrase (fn [] (c/env "BBSSH_TEST_PASSPHRASE"))}))))))
    (let [e (ex #(bbssh/ssh c/host (assoc opts :passphrase "wrong")))]
      (is (= :bbssh/auth-failed (-> e :data :type)))
      (is (re-find #"cannot decrypt" (:message e))))))

(deftest private-key-as-text-and-bytes
  (let [text (slurp identity-file)]
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (bare-opts {:private-key text})))))
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (bare-opts {:private-key (.getBytes text "UTF-8")})))))
    (testing ":public-key must be the private key's other half"
      (is (= "ok\n" (echo-ok (bbssh/ssh c/host (bare-opts {:private-key text :public-key (slurp (str identity-file ".pub"))})))))
      (let [e (ex #(bbssh/ssh c/host (bare-opts {:private-key text
                                                 :public-key (slurp (str (c/env "BBSSH_TEST_RSA_IDENTITY") ".pub"))})))]
        (is (= :bbssh/bad-option (-> e :data :type)))
        (is (re-find #"not the public half" (:message e)))))))

(deftest agent-auth-and-agent-forwarding
  (let [dir (n/temp-dir)
        sock (str dir "/agent.sock")
        agent (.start (ProcessBuilder. ["ssh-agent" "-D" "-a" sock]))]
    (try
      (is (n/wait-until 5000 #(.exists (io/file sock))))
      (let [pb (doto (ProcessBuilder. ["ssh-add" identity-file]) (.redirectErrorStream true))
            _ (.put (.environment pb) "SSH_AUTH_SOCK" sock)
            p (.start pb)]
        (slurp (.getInputStream p))
        (is (zero? (.waitFor p))))
      (let [s (bbssh/ssh c/host (bare-opts {:no-agent false :agent-socket sock}))]
        (is (= "ok\n" (echo-ok s)) "logged in with the agent's key")
        (let [listed (-> (bbssh/exec s "ssh-add -l" {:out :string :agent-forwarding true}) deref)]
          (is (= 0 (:exit listed)))
          (is (re-find #"SHA256:" (:out listed)) "the remote side sees the forwarded agent's key")))
      (finally (.destroy agent)))))

(deftest host-key-policies
  (let [dir (n/temp-dir)
        fresh (str dir "/known_hosts")]
    (testing "an unknown key, asked through user-info: yes records it"
      (let [question (atom nil)
            ui (user-info/new {:prompt-yes-no (fn [q] (reset! question q) true)})]
        (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:known-hosts fresh :user-info ui})))))
        (is (re-find #"SHA256:" @question))
        (is (str/includes? (slurp fresh) (str "[127.0.0.1]:" c/port)))
        (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:known-hosts fresh})))) "known from now on")))
    (testing "no refuses it"
      (let [ui (user-info/new {:prompt-yes-no (fn [_] false)})
            e (ex #(bbssh/ssh c/host (c/opts {:known-hosts (str dir "/other") :user-info ui})))]
        (is (= :bbssh/host-key-unknown (-> e :data :type)))
        (is (re-find #"declined" (:message e)))))
    (testing "hashed known_hosts"
      (let [hashed (str dir "/hashed")]
        (spit hashed (slurp known-hosts))
        (is (zero? (:exit (sh "ssh-keygen" "-H" "-f" hashed))))
        (is (not (str/includes? (slurp hashed) "127.0.0.1")))
        (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:known-hosts hashed})))))))
    (testing "a revoked key is refused"
      (let [revoked (str dir "/revoked")
            lines (remove str/blank? (str/split-lines (slurp known-hosts)))]
        (spit revoked (str (str/join "\n" (concat lines (map #(str "@revoked " %) lines))) "\n"))
        (let [e (ex #(bbssh/ssh c/host (c/opts {:known-hosts revoked :accept-host-key true})))]
          (is (= :bbssh/host-key-revoked (-> e :data :type)))
          (is (re-find #"revoked" (:message e))))))
    (testing "a changed key is refused, unless strict checking is off"
      (let [changed (str dir "/changed")
            other-key (str dir "/other_key")]
        (sh "ssh-keygen" "-q" "-t" "ed25519" "-N" "" "-f" other-key)
        (spit changed (str "[127.0.0.1]:" c/port " " (slurp (str other-key ".pub"))))
        (doseq [extra [{} {:accept-host-key :new} {:accept-host-key false} {:strict-host-key-checking true}
                       {:strict-host-key-checking :accept-new}]]
          (let [e (ex #(bbssh/ssh c/host (c/opts (merge {:known-hosts changed} extra))))]
            (is (= :bbssh/host-key-changed (-> e :data :type)) (pr-str extra))
            (is (re-find #"HAS CHANGED" (:message e)))))
        ;; as OpenSSH's StrictHostKeyChecking=no: a key login goes on,
        ;; without forwarding, and nothing is recorded (compat06_test has
        ;; the rest)
        (doseq [extra [{:accept-host-key true} {:strict-host-key-checking false}]]
          (let [s (bbssh/ssh c/host (c/opts (merge {:known-hosts changed} extra)))]
            (is (= "ok\n" (echo-ok s)) (pr-str extra))
            (is (= :bbssh/host-key-changed
                   (-> (ex #(session/set-port-forwarding-local s {:local-port 0 :remote-host "localhost" :remote-port 22}))
                       :data :type))
                (pr-str extra))))
        (is (= (str "[127.0.0.1]:" c/port " " (slurp (str other-key ".pub"))) (slurp changed)))))))

(deftest unknown-host-key-policies
  ;; a fresh known_hosts each time; the server is asked for its ed25519 key
  ;; so that the fingerprint option has one key to match
  (let [dir (n/temp-dir)
        fp (c/env "BBSSH_TEST_HOST_FINGERPRINT")
        attempt (fn [i extra]
                  (let [kh (str dir "/kh" i)]
                    {:result (try (echo-ok (bbssh/ssh c/host (c/opts (merge {:known-hosts kh :connection-options {:server-host-key "ssh-ed25519"}} extra))))
                                  (catch clojure.lang.ExceptionInfo e (:type (ex-data e))))
                     :recorded (and (.exists (io/file kh)) (str/includes? (slurp kh) "ssh-ed25519"))}))]
    (doseq [[i extra want] [[1 {:strict-host-key-checking true} {:result :bbssh/host-key-unknown :recorded false}]
                            [2 {:strict-host-key-checking false} {:result "ok\n" :recorded true}]
                            [3 {:strict-host-key-checking :accept-new} {:result "ok\n" :recorded true}]
                            [4 {:accept-host-key true} {:result "ok\n" :recorded true}]
                            [5 {:accept-host-key :new} {:result "ok\n" :recorded true}]
                            [6 {:accept-host-key fp} {:result "ok\n" :recorded true}]
                            [7 {:accept-host-key "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {:result :bbssh/host-key-unknown :recorded false}]
                            [8 {:accept-host-key false} {:result :bbssh/host-key-unknown :recorded false}]
                            [9 {} {:result :bbssh/host-key-unknown :recorded false}]]]
      (is (= want (attempt i extra)) (pr-str extra)))))

(deftest failing-agent-is-named
  (let [e (ex #(bbssh/ssh c/host (bare-opts {:no-agent false :agent-socket "/nonexistent/agent.sock"})))]
    (is (= :bbssh/auth-failed (-> e :data :type)))
    (is (re-find #"ssh-agent at /nonexistent/agent.sock" (:message e)))))

(deftest settings-after-creation
  (let [s (bbssh/ssh "192.0.2.1" (bare-opts {:no-connect true :port 1}))]
    (session/set-host s c/host)
    (session/set-port s c/port)
    (is (= :bbssh/bad-option (-> (ex #(session/set-port s 0)) :data :type)))
    (is (str/includes? (session/get-config s :cipher) "aes128-gcm@openssh.com"))
    (is (= "ask" (session/get-config s "StrictHostKeyChecking")))
    (session/set-config s :cipher "aes256-ctr")
    (is (= "aes256-ctr" (session/get-config s "cipher.c2s")))
    (session/set-password s password)
    (session/connect s)
    (is (= "ok\n" (echo-ok s)))
    (session/disconnect s)
    (session/set-configs s {:cipher "no-such-cipher"})
    (let [e (ex #(session/connect s))]
      (is (= :bbssh/bad-option (-> e :data :type)))
      (is (re-find #"unknown cipher \"no-such-cipher\"" (:message e)))))
  (testing ":connection-options as strings and as functions of the current value"
    (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:connection-options {:cipher "aes256-gcm@openssh.com"
                                                                           :kex #(str "curve25519-sha256," %)}})))))
    (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:connection-options {:colour "red"}}))) :data :type)))))

(deftest ssh-config-file
  (let [dir (n/temp-dir)
        cfg (str dir "/config")
        echo (n/echo-server)
        fwd-port (n/free-port)]
    (spit cfg (str "Host other\n  HostName 192.0.2.1\n\n"
                   "Host my-alias\n  HostName 127.0.0.1\n  Port " c/port "\n  User " c/user "\n"
                   "  IdentityFile " identity-file "\n  IdentitiesOnly yes\n  UserKnownHostsFile " known-hosts "\n"
                   "Host via-jump\n  HostName 127.0.0.1\n  Port " c/port "\n  User " c/user "\n"
                   "  IdentityFile " identity-file "\n  UserKnownHostsFile " known-hosts "\n"
                   "  ProxyJump " c/user "@127.0.0.1:" c/port "\n"
                   "Host bad-jump\n  HostName 127.0.0.1\n  Port " c/port "\n  ProxyJump 127.0.0.1:1\n"
                   "Host via-command\n  HostName 127.0.0.1\n  Port " c/port "\n  User " c/user "\n"
                   "  IdentityFile " identity-file "\n  UserKnownHostsFile " known-hosts "\n"
                   "  ProxyCommand bash -c 'exec 3<>/dev/tcp/%h/%p; cat <&3 & cat >&3'\n"
                   "Host with-forward\n  HostName 127.0.0.1\n  Port " c/port "\n  User " c/user "\n"
                   "  IdentityFile " identity-file "\n  UserKnownHostsFile " known-hosts "\n"
                   "  LocalForward 127.0.0.1:" fwd-port " 127.0.0.1:" (.getLocalPort echo) "\n"))
    (is (= "ok\n" (echo-ok (bbssh/ssh "my-alias" {:config-file cfg :no-agent true}))))
    (is (= "ok\n" (echo-ok (bbssh/ssh "via-jump" {:config-file cfg :no-agent true}))) "ProxyJump through the same sshd")
    (let [e (ex #(bbssh/ssh "bad-jump" {:config-file cfg :no-agent true :username c/user}))]
      (is (= :bbssh/connect-failed (-> e :data :type)))
      (is (re-find #"jump host 1 \(127.0.0.1:1\)" (:message e))))
    (is (= "ok\n" (echo-ok (bbssh/ssh "via-command" {:config-file cfg :no-agent true}))) "ProxyCommand")
    (let [s (bbssh/ssh "with-forward" {:config-file cfg :no-agent true})]
      (is (= [{:bind-address "127.0.0.1" :local-port fwd-port :remote-host "127.0.0.1" :remote-port (.getLocalPort echo)}]
             (session/get-port-forwarding-local s)) "LocalForward from the config file")
      (is (n/round-trip "127.0.0.1" fwd-port 100000 1))
      (session/disconnect s))
    (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh "my-alias" {:config-file (str dir "/missing")})) :data :type)))))

(deftest jump-host-option
  (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:jump-host (str c/user "@127.0.0.1:" c/port)})))))
  (testing "a session to tunnel through: the tunnelled session dies with it"
    (let [bastion (bbssh/ssh c/host (c/opts))
          inner (bbssh/ssh c/host (c/opts {:jump-host bastion}))]
      (is (= "ok\n" (echo-ok inner)))
      (session/disconnect bastion)
      (is (n/wait-until 5000 #(not (session/connected? inner)))))))

(defn http-connect-proxy
  "A tiny HTTP CONNECT proxy on 127.0.0.1; returns [ServerSocket requests-atom]."
  []
  (let [server (java.net.ServerSocket. 0 50 (java.net.InetAddress/getByName "127.0.0.1"))
        requests (atom [])]
    (future
      (loop []
        (when-let [client (try (.accept server) (catch Exception _ nil))]
          (future
            (let [in (java.io.DataInputStream. (.getInputStream client))
                  line (loop [acc []]
                         (let [b (.read in)]
                           (if (or (neg? b) (= b 10)) (str/trim (apply str (map char acc))) (recur (conj acc b)))))
                  _ (loop [] (let [l (loop [acc []] (let [b (.read in)] (if (or (neg? b) (= b 10)) acc (recur (conj acc b)))))]
                               (when (> (count l) 1) (recur))))
                  [_ target] (str/split line #" ")
                  [h p] (str/split target #":")
                  upstream (java.net.Socket. ^String h (Integer/parseInt p))]
              (swap! requests conj line)
              (.write (.getOutputStream client) (.getBytes "HTTP/1.1 200 Connection established\r\n\r\n"))
              (future (io/copy (.getInputStream upstream) (.getOutputStream client)) (.shutdownOutput client))
              (io/copy in (.getOutputStream upstream))
              (.shutdownOutput upstream)))
          (recur))))
    [server requests]))

(deftest proxies
  (testing "HTTP CONNECT"
    (let [[server requests] (http-connect-proxy)]
      (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:proxy {:type :http :host "127.0.0.1" :port (.getLocalPort server)}})))))
      (is (= [(str "CONNECT 127.0.0.1:" c/port " HTTP/1.1")] @requests))
      (.close server)))
  (testing "SOCKS5, served by another session's dynamic forward"
    (let [s (bbssh/ssh c/host (c/opts))
          socks (session/set-port-forwarding-dynamic s {:local-port 0})]
      (is (= "ok\n" (echo-ok (bbssh/ssh c/host (c/opts {:proxy {:type :socks5 :host "127.0.0.1" :port socks}})))))
      (is (= 1 (:total-connections (meta (first (session/get-port-forwarding-dynamic s))))))
      (testing "and SOCKS4, through the same proxy, set on an unconnected session"
        (let [s2 (bbssh/ssh c/host (c/opts {:no-connect true}))]
          (session/set-proxy s2 {:type :socks4 :host "127.0.0.1" :port socks})
          (session/connect s2)
          (is (= "ok\n" (echo-ok s2)))
          (is (= 2 (:total-connections (meta (first (session/get-port-forwarding-dynamic s))))))))))
  (is (= :bbssh/bad-option (-> (ex #(bbssh/ssh c/host (c/opts {:proxy {:type :ftp :host "h" :port 1}}))) :data :type)))
  (is (= :bbssh/connect-failed (-> (ex #(bbssh/ssh c/host (c/opts {:proxy {:type :http :host "127.0.0.1" :port (n/free-port)}}))) :data :type))))

(deftest keepalive-notices-a-dead-server
  (let [s (bbssh/ssh c/host (c/opts {:keepalive-interval 300 :keepalive-count-max 2}))
        port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port 1})
        ;; every command of a connection runs under the same sshd process
        pid (str/trim (:out @(bbssh/exec s "echo $PPID" {:out :string})))
        ;; sshd may stop before it confirms the command started, so its
        ;; start can fail once the session is declared dead
        _ (future (try (bbssh/exec s "kill -STOP $PPID" {:out :discard :err :discard})
                       (catch Exception _ nil)))]
    (try
      (is (n/wait-until 10000 #(not (session/connected? s))) "declared dead after 2 unanswered keepalives")
      (is (re-find #"did not answer 2 keepalives"
                   (str (:closed (first (session/get-port-forwarding-local s))))))
      (finally
        (sh "kill" "-9" pid)))))

(c/run-tests-and-exit 'e2e.auth-test)
