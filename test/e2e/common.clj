;; Shared set-up for the end-to-end scripts: loads the pod the way a user
;; does, with the transport the harness asks for, and knows the test sshd.
(ns e2e.common
  (:require [babashka.pods :as pods]
            [clojure.test :as t]))

(defn env
  "The value of environment variable k; throws if it is missing."
  [k]
  (or (System/getenv k) (throw (ex-info (str "missing environment variable " k) {}))))

(def transport (keyword (or (System/getenv "BBSSH_TEST_TRANSPORT") "stdio")))

(defn load-pod!
  "Loads the bbssh pod under test."
  []
  (pods/load-pod (env "BBSSH_POD") (when (= :socket transport) {:transport :socket})))

(def host (env "BBSSH_TEST_HOST"))
(def port (Integer/parseInt (env "BBSSH_TEST_PORT")))
(def user (env "BBSSH_TEST_USER"))

(defn opts
  "Options for bbssh/ssh to the test sshd with the test key, merged with m."
  ([] (opts {}))
  ([m]
   (merge {:port port
           :username user
           :identity (env "BBSSH_TEST_IDENTITY")
           :known-hosts (env "BBSSH_TEST_KNOWN_HOSTS")
           :no-agent true
           :identities-only true}
          m)))

(defn settle
  "Runs the garbage collector until (done?) holds (the cleaner frees
  dropped handles after a collection), at most 30 s; returns
  whether it did."
  [done?]
  (let [deadline (+ (System/currentTimeMillis) 30000)]
    (loop []
      (System/gc)
      (Thread/sleep 100)
      (cond
        (done?) true
        (> (System/currentTimeMillis) deadline) false
        :else (recur)))))

(defn collect
  "Runs the garbage collector for ms milliseconds, giving the cleaner time
  to report."
  [ms]
  (let [deadline (+ (System/currentTimeMillis) ms)]
    (while (< (System/currentTimeMillis) deadline)
      (System/gc)
      (Thread/sleep 100))))

(defn run-tests-and-exit
  "Runs the tests of the given namespaces, naming each test as it starts
  and its time when it ends, and exits 0 only when all pass."
  [& namespaces]
  (let [started (atom 0)]
    (defmethod t/report :begin-test-var [m]
      (reset! started (System/nanoTime))
      (println "  start" (-> m :var meta :name))
      (flush))
    (defmethod t/report :end-test-var [m]
      (println "  end  " (-> m :var meta :name) (format "(%.1f s)" (/ (- (System/nanoTime) @started) 1e9)))
      (flush)))
  (let [{:keys [pass fail error]} (apply t/run-tests namespaces)]
    (println (format "%d passed, %d failed" pass (+ fail error)))
    (System/exit (if (zero? (+ fail error)) 0 1))))
