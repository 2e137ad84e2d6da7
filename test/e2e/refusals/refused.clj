;; Servers that say no: run by TestRefusals (refusals_test.go) against
;; OpenSSH sshds configured to refuse, one per case (BBSSH_R_<CASE>_PORT,
;; _IDENTITY, _KNOWN_HOSTS). Every refusal is a typed ex-info whose message
;; names what the server refused (a forwarded connection, which no call
;; waits for, records it as the forward's :last-error and is closed), and
;; the session keeps doing what the server allows.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.refusals
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]])
  (:import [java.net InetAddress ServerSocket Socket]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp]
         '[pod.epiccastle.bbssh.user-info :as user-info])

(defn opts
  "Options for the sshd of case k, merged with m."
  ([k] (opts k {}))
  ([k m]
   (c/opts (merge {:port (Long/parseLong (c/env (str "BBSSH_R_" k "_PORT")))
                   :identity (c/env (str "BBSSH_R_" k "_IDENTITY"))
                   :known-hosts (c/env (str "BBSSH_R_" k "_KNOWN_HOSTS"))}
                  m))))

(defn- echo-on
  "A TCP echo server on 127.0.0.1:port."
  [port]
  (let [server (ServerSocket. (int port) 50 (InetAddress/getByName "127.0.0.1"))]
    (future
      (loop []
        (when-let [conn (try (.accept server) (catch Exception _ nil))]
          (future (with-open [^Socket conn conn]
                    (try (clojure.java.io/copy (.getInputStream conn) (.getOutputStream conn))
                         (.shutdownOutput conn)
                         (catch Exception _ nil))))
          (recur))))
    server))

(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))
(def unix-dir (n/temp-dir))
(def unix-echo-path (str unix-dir "/echo.sock"))
(n/unix-echo-server unix-echo-path)

(defn- still-works [s]
  (is (= "allowed\n" (-> (bbssh/exec s "echo allowed" {:out :string}) deref :out)) "the session keeps running commands"))

(defn- local-refused
  "A local forward to target (a map of :remote-host/:remote-port or
  :remote-unix-socket): connections through it are closed, and its
  :last-error names the refusal and the settings re."
  [s target re]
  (let [port (session/set-port-forwarding-local s (merge {:local-port 0} target))]
    (is (not (try (n/round-trip "127.0.0.1" port 1000 1) (catch Exception _ false))) "nothing comes through")
    (let [err (n/wait-until 5000 #(:last-error (meta (first (session/get-port-forwarding-local s)))))]
      (is (re-find #"refused to open a connection|could not connect" (str err)) err)
      (is (re-find re (str err)) err))
    (session/delete-port-forwarding-local s {:local-port port})))

(defn- local-works [s target]
  (let [port (session/set-port-forwarding-local s (merge {:local-port 0} target))]
    (is (n/round-trip "127.0.0.1" port 100000 2) "the allowed local forward carries data")
    (session/delete-port-forwarding-local s {:local-port port})))

(defn- remote-refused [s spec re]
  (let [e (ex #(session/set-port-forwarding-remote s (merge {:local-port echo-port} spec)))]
    (is (= :bbssh/forward-failed (-> e :data :type)) (pr-str e))
    (is (re-find #"refused to listen" (str (:message e))) (:message e))
    (is (re-find re (str (:message e))) (:message e))))

(defn- remote-works [s spec]
  (let [rport (session/set-port-forwarding-remote s (merge {:local-port echo-port} spec))]
    (is (n/round-trip "127.0.0.1" rport 100000 3) "the allowed remote forward carries data")
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(defmacro with-session [[s k] & body]
  `(let [~s (bbssh/ssh c/host (opts ~k))]
     (try ~@body (finally (session/disconnect ~s)))))

(def tcp {:remote-host "127.0.0.1" :remote-port echo-port})

(deftest allow-tcp-forwarding-no
  (with-session [s "NO_TCP"]
    (local-refused s tcp #"AllowTcpForwarding")
    (remote-refused s {:remote-port 0} #"AllowTcpForwarding")
    (still-works s)))

(deftest allow-tcp-forwarding-local
  (with-session [s "LOCAL_ONLY"]
    (local-works s tcp)
    (remote-refused s {:remote-port 0} #"AllowTcpForwarding")
    (still-works s)))

(deftest allow-tcp-forwarding-remote
  (with-session [s "REMOTE_ONLY"]
    (local-refused s tcp #"AllowTcpForwarding")
    (remote-works s {:remote-port 0})
    (still-works s)))

(deftest permit-open
  (let [allowed (Long/parseLong (c/env "BBSSH_R_OPEN_PORT"))
        server (echo-on allowed)]
    (with-session [s "PERMIT_OPEN"]
      (local-works s {:remote-host "127.0.0.1" :remote-port allowed})
      (local-refused s tcp #"PermitOpen")
      (still-works s))
    (.close server)))

(deftest permit-listen
  (let [allowed (Long/parseLong (c/env "BBSSH_R_LISTEN_PORT"))]
    (with-session [s "PERMIT_LISTEN"]
      (remote-works s {:bind-address "127.0.0.1" :remote-port allowed})
      (remote-refused s {:remote-port 0} #"PermitListen")
      (local-works s tcp)
      (still-works s))))

(deftest disable-forwarding
  (with-session [s "DISABLE_FORWARDING"]
    (local-refused s tcp #"DisableForwarding")
    (local-refused s {:remote-unix-socket unix-echo-path} #"DisableForwarding")
    (remote-refused s {:remote-port 0} #"DisableForwarding")
    (remote-refused s {:remote-unix-socket (str unix-dir "/r.sock")} #"DisableForwarding")
    (still-works s)))

(deftest allow-stream-local-forwarding-no
  (with-session [s "NO_STREAMLOCAL"]
    (local-refused s {:remote-unix-socket unix-echo-path} #"AllowStreamLocalForwarding")
    (remote-refused s {:remote-unix-socket (str unix-dir "/r.sock")} #"AllowStreamLocalForwarding")
    (local-works s tcp)
    (still-works s)))

(deftest permit-tty-no
  (with-session [s "NO_TTY"]
    (let [e (ex #(deref (bbssh/exec s "tty" {:pty true :out :string})))]
      (is (= :bbssh/exec-failed (-> e :data :type)) (pr-str e))
      (is (re-find #"refused a pseudo-terminal.*PermitTTY" (str (:message e))) (:message e)))
    (still-works s)))

(deftest force-command
  (with-session [s "FORCE_COMMAND"]
    (testing "commands: the server runs its own instead (SSH gives the client no way to know)"
      (is (= "forced-by-the-server\n" (-> (bbssh/exec s "echo mine" {:out :string}) deref :out))))
    (testing "scp and sftp say the server ran something else"
      (let [e (ex #(scp/scp-to [["x" {:filename "refused-x"}]] "." {:session s}))]
        (is (re-find #"ForceCommand" (str (:message e))) (pr-str e)))
      (let [e (ex #(sftp/read-all s "/etc/hostname"))]
        (is (= :bbssh/sftp-failed (-> e :data :type)) (pr-str e))
        (is (re-find #"ForceCommand" (str (:message e))) (:message e))))))

(deftest max-auth-tries-1
  (let [e (ex #(bbssh/ssh c/host (opts "MAX_AUTH_TRIES" {:identity [(c/env "BBSSH_TEST_RSA_IDENTITY")
                                                                    (c/env "BBSSH_R_MAX_AUTH_TRIES_IDENTITY")]})))]
    (is (= :bbssh/auth-failed (-> e :data :type)) (pr-str e))
    (is (re-find #"MaxAuthTries" (str (:message e))) (:message e)))
  (with-session [s "MAX_AUTH_TRIES"]
    (still-works s)))

(deftest closed-during-authentication
  (if (System/getenv "BBSSH_R_NO_PASSWORD")
    (println "  skipped: password login needs the tests to run as root")
    (let [slow (user-info/new {:get-password (fn [] (Thread/sleep 5000) "too late")})
          e (ex #(bbssh/ssh c/host (-> (opts "LOGIN_GRACE" {:user-info slow}) (dissoc :identity))))]
      (is (= :bbssh/auth-failed (-> e :data :type)) (pr-str e))
      (is (re-find #"LoginGraceTime" (str (:message e))) (:message e))
      (with-session [s "LOGIN_GRACE"]
        (still-works s)))))

(c/run-tests-and-exit 'e2e.refusals)
