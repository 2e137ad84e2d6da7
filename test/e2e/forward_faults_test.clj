;; Forward targets that fail: one that never answers (a listener whose
;; accept queue is full, so the kernel drops further connection attempts)
;; is given up after :connect-timeout, one that refuses is given up at
;; once, the forwarded client is closed either way, and the forward keeps
;; serving once the target is back. Both -L (sshd dials the target) and -R
;; (the pod dials it).
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.forward-faults-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))

(defn hanging-server
  "A listener on 127.0.0.1 with a backlog of 1, its accept queue filled by
  connections nobody accepts: further connection attempts get no answer
  until it is unclogged. Returns {:server :fillers}."
  []
  (let [server (java.net.ServerSocket. 0 1 (java.net.InetAddress/getByName "127.0.0.1"))
        port (.getLocalPort server)]
    (loop [fillers []]
      (let [sock (java.net.Socket.)
            connected (try (.connect sock (java.net.InetSocketAddress. "127.0.0.1" (int port)) 300) true
                           (catch java.net.SocketTimeoutException _ false))]
        (cond
          connected (if (< (count fillers) 64)
                      (recur (conj fillers sock))
                      (throw (ex-info "the accept queue never filled" {})))
          :else (do (.close sock) {:server server :fillers fillers}))))))

(defn echo-on!
  "Echoes every connection server accepts, until it is closed."
  [^java.net.ServerSocket server]
  (future
    (loop []
      (when-let [conn (try (.accept server) (catch Exception _ nil))]
        (future
          (try
            (with-open [^java.net.Socket conn conn]
              (io/copy (.getInputStream conn) (.getOutputStream conn))
              (.shutdownOutput conn))
            (catch Exception _ nil)))
        (recur)))))

(defn unclog!
  "Lets the hanging server go: drops the fillers and echoes every
  connection from now on."
  [{:keys [server fillers]}]
  (doseq [^java.net.Socket f fillers] (.close f))
  (echo-on! server)
  ;; until the queue has drained, a new attempt may still be dropped (and
  ;; retried a second later, as long as the forward's :connect-timeout)
  (n/wait-until 10000 #(try (with-open [sock (java.net.Socket.)]
                              (.connect sock (.getLocalSocketAddress ^java.net.ServerSocket server) 200)
                              true)
                            (catch java.io.IOException _ false))))

(defn closed-after
  "Connects to port and waits (at most 20 s) for the forward to close the
  connection without a byte; returns the seconds it took, or nil when
  bytes came or it stayed open."
  [port]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (.setSoTimeout sock 20000)
    (let [t0 (System/nanoTime)
          r (try (.read (.getInputStream sock))
                 (catch java.net.SocketTimeoutException _ :open)
                 (catch java.net.SocketException _ -1))]
      (when (= -1 r)
        (/ (- (System/nanoTime) t0) 1e9)))))

(defn last-error [forwards port-key port]
  (:last-error (meta (first (filter #(= port (port-key %)) forwards)))))

(deftest a-target-that-never-answers-is-given-up-after-connect-timeout
  (let [target (hanging-server)
        tport (.getLocalPort ^java.net.ServerSocket (:server target))
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port tport
                                                    :connect-timeout 1000})
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port tport :connect-timeout 1000})]
    (try
      (doseq [[what port] [["-L" lport] ["-R" rport]]]
        (let [secs (closed-after port)]
          (println (format "FIGURE %s hanging target: client closed after %s s" what secs))
          (is (some? secs) (str what ": the client is closed, not left waiting"))
          (when secs
            (is (<= 0.9 secs 4.0) (str what ": closed about :connect-timeout (1 s) later, took " secs " s")))))
      (is (re-find #"(?i)connecting to .*(timeout|deadline|timed out)"
                   (str (last-error (session/get-port-forwarding-local s) :local-port lport)))
          "the -L forward says its target timed out")
      (is (n/wait-until 5000 #(re-find #"(?i)(timeout|deadline|timed out)"
                                       (str (last-error (session/get-port-forwarding-remote s) :remote-port rport))))
          "the -R forward says its target timed out")
      (testing "the listeners keep serving once the target answers"
        (unclog! target)
        ;; A late SYN of a given-up attempt may still fill the backlog of
        ;; one for a moment, and a dial that meets it fails after
        ;; :connect-timeout: the listener serving is shown by a round
        ;; trip within three connections.
        (let [served? (fn [port seed]
                        ;; only a refused or reset connection is retried; a
                        ;; wrong echo fails at once
                        (loop [tries 1]
                          (let [r (try (n/round-trip "127.0.0.1" port 1000000 seed)
                                       (catch java.net.SocketException e
                                         (println "retrying after" (ex-message e))
                                         ::reset))]
                            (if (and (= ::reset r) (< tries 3)) (recur (inc tries)) (true? r)))))]
          (is (served? lport 70) "through -L")
          (is (served? rport 71) "through -R"))
        (is (<= 2 (:total-connections (meta (first (session/get-port-forwarding-local s)))) 4))
        (is (<= 2 (:total-connections (meta (first (session/get-port-forwarding-remote s)))) 4)))
      (finally
        (session/delete-port-forwarding-local s {:local-port lport})
        (session/delete-port-forwarding-remote s {:remote-port rport})
        (.close ^java.net.ServerSocket (:server target))))))

(defn reserved-port
  "A socket bound to a free port on 127.0.0.1 that does not listen: the
  port refuses connections and nobody else can take it until it closes."
  ^java.net.Socket []
  (doto (java.net.Socket.) (.bind (java.net.InetSocketAddress. "127.0.0.1" 0))))

(deftest a-refusing-target-is-given-up-at-once
  (let [reservation (reserved-port)
        dead-port (.getLocalPort reservation)
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port dead-port
                                                    :connect-timeout 10000})
        rport (session/set-port-forwarding-remote s {:remote-port 0 :local-port dead-port :connect-timeout 10000})]
    (doseq [[what port] [["-L" lport] ["-R" rport]]]
      (let [secs (closed-after port)]
        (println (format "FIGURE %s refusing target: client closed after %s s" what secs))
        (is (some? secs) (str what ": the client is closed"))
        (when secs
          (is (< secs 2.0) (str what ": closed at once, not after :connect-timeout (10 s); took " secs " s")))))
    (testing "the listeners keep serving once the target is up"
      (.close reservation)
      (with-open [server (java.net.ServerSocket. (int dead-port) 50 (java.net.InetAddress/getByName "127.0.0.1"))]
        (echo-on! server)
        (is (n/round-trip "127.0.0.1" lport 1000000 72) "through -L")
        (is (n/round-trip "127.0.0.1" rport 1000000 73) "through -R")))
    (session/delete-port-forwarding-local s {:local-port lport})
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(c/run-tests-and-exit 'e2e.forward-faults-test)
