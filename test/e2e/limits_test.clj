;; The test sshd runs with OpenSSH's default limits (MaxSessions 10,
;; MaxStartups 10:30:100), as servers ship: fifty commands at once on one
;; session all run with their own output, fifty connections at once all
;; connect, a wait for the session limit that cannot end names
;; MaxSessions, and forwarded connections are not held back by it.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.limits-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def host (or (System/getenv "BBSSH_LIMITS_HOST") c/host))

(defn- ms-since [t0] (/ (- (System/nanoTime) t0) 1e6))

(deftest fifty-commands-at-once-on-one-session
  (let [s (bbssh/ssh host (c/opts))
        t0 (System/nanoTime)
        outs (->> (range 50)
                  (mapv (fn [i] (future (try (-> (bbssh/exec s (str "sleep 0.1; echo command-" i) {:out :string}) deref)
                                             (catch Exception e {:exit -1 :out (ex-message e)})))))
                  (mapv deref))
        took (ms-since t0)]
    (println (format "FIGURE 50 commands at once on one session (the server allows 10): %.0f ms" took))
    (is (= (mapv #(str "command-" % "\n") (range 50)) (mapv :out outs)) "each command returned its own output")
    (is (every? zero? (map :exit outs)))
    (session/disconnect s)))

(deftest fifty-connections-at-once
  (let [retries (atom 0)
        debug (fn [_ m] (when (str/includes? m "trying again") (swap! retries inc)))
        t0 (System/nanoTime)
        sessions (->> (range 50)
                      (mapv (fn [_] (future (try (bbssh/ssh host (c/opts {:debug-fn debug}))
                                                 (catch Exception e (ex-message e))))))
                      (mapv deref))
        took (ms-since t0)
        connected (filter keyword? sessions)]
    (println (format "FIGURE 50 connections at once: %d connected in %.0f ms, %d retries of dropped connections"
                     (count connected) took @retries))
    (is (= 50 (count connected)) (str "failed: " (take 3 (remove keyword? sessions))))
    (is (every? #(= "ok\n" (-> (bbssh/exec % "echo ok" {:out :string}) deref :out)) connected))
    (run! session/disconnect connected)))

(deftest a-wait-that-cannot-end-names-max-sessions
  (let [s (bbssh/ssh host (c/opts {:channel-wait 1500}))
        sleepers (mapv (fn [_] (bbssh/exec s "sleep 30" {:out :string})) (range 10))
        echo (n/echo-server)
        lport (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port (.getLocalPort echo)})]
    (testing "forwarded connections are not held back by the session limit"
      (is (n/round-trip "127.0.0.1" lport 100000 3)))
    (testing "the eleventh session waits, then gives up naming MaxSessions"
      (let [t0 (System/nanoTime)
            e (n/ex #(deref (bbssh/exec s "echo eleventh" {:out :string})))]
        (is (= :bbssh/exec-failed (-> e :data :type)))
        (is (str/includes? (:message e) "MaxSessions") (:message e))
        (is (str/includes? (:message e) "10 were open") (:message e))
        (is (>= (ms-since t0) 1400) "it waited the :channel-wait first")))
    (is (= 10 (count sleepers)))
    (session/disconnect s)
    (.close echo)))

(deftest an-option-that-is-not-a-count-is-refused
  (let [e (n/ex #(bbssh/ssh host (c/opts {:connection-attempts -1})))]
    (is (= :bbssh/bad-option (-> e :data :type)))
    (is (str/includes? (:message e) ":connection-attempts")))
  (let [e (n/ex #(bbssh/ssh host (c/opts {:channel-wait "soon"})))]
    (is (= :bbssh/bad-option (-> e :data :type)))
    (is (str/includes? (:message e) ":channel-wait"))))

(c/run-tests-and-exit 'e2e.limits-test)
