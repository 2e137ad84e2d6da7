;; A user-info callback that never returns must not hang the connection
;; for ever: run by TestCallbackNeverReturns (faults_test.go) against an
;; sshd of its own with a short LoginGraceTime (BBSSH_LOGIN_GRACE seconds).
;; As with OpenSSH, a question waits for its answer as long as the server
;; waits for the login; what ends the wait is :connect-timeout, the script
;; releasing the user-info, or the server giving up. (A callback that
;; throws is in auth_test.clj; a handler that throws, in
;; remote_handler_test.clj.)
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.faults.callbacks
  (:require [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.pod.registry :as registry]
         '[pod.epiccastle.bbssh.user-info :as user-info])

(def grace-s (Long/parseLong (c/env "BBSSH_LOGIN_GRACE")))

(defn bare-opts
  "Options with no key at all, so that a password must be asked for."
  [m]
  (merge {:port c/port :username c/user :known-hosts (c/env "BBSSH_TEST_KNOWN_HOSTS") :no-agent true
          :identities-only true :config-file false}
         m))

(defn stuck-user-info
  "A user-info whose :get-password never returns; asked is delivered when
  it is called."
  [asked]
  (user-info/new {:get-password (fn [] (deliver asked true) @(promise))}))

(defn timed
  "Runs f on a thread of its own and waits up to ms for it: {:secs :r},
  r being nil, the ex-info data of what f threw, or :hung."
  [ms f]
  (let [t0 (System/nanoTime)
        r (deref (future (ex f)) ms :hung)]
    {:secs (/ (- (System/nanoTime) t0) 1e9) :r r}))

(deftest a-callback-that-never-returns
  (testing ":connect-timeout bounds the question"
    (let [asked (promise)
          {:keys [secs r]} (timed 10000 #(bbssh/ssh c/host (bare-opts {:user-info (stuck-user-info asked)
                                                                        :connect-timeout 1500})))]
      (println (format "FIGURE :connect-timeout 1.5 s: the connect failed after %.2f s: %s" secs (:message r)))
      (is (realized? asked) "the question was asked")
      (is (not= :hung r) "the connect ended")
      (is (#{:bbssh/connect-failed :bbssh/auth-failed} (-> r :data :type)) (str "typed error: " r))
      (is (< 1.4 secs 4.0) (str "about :connect-timeout later, took " secs " s"))))
  (testing "releasing the user-info cancels the question"
    (let [asked (promise)
          ui (stuck-user-info asked)
          t0 (System/nanoTime)
          f (future (ex #(bbssh/ssh c/host (bare-opts {:user-info ui}))))]
      (is (deref asked 10000 false) "the question was asked")
      (let [released (System/nanoTime)
            _ (registry/release ui)
            r (deref f 5000 :hung)]
        (println (format "FIGURE release: the connect failed %.3f s after the release: %s"
                         (/ (- (System/nanoTime) released) 1e9) (:message r)))
        (is (not= :hung r) "the connect ended")
        (is (= :bbssh/auth-failed (-> r :data :type)) (str "typed error: " r))
        (is (re-find #"released" (str (:message r))) "the error says the user-info was released"))))
  (testing "the server giving up on the login (LoginGraceTime) ends the question"
    (let [asked (promise)
          {:keys [secs r]} (timed (* 1000 (+ grace-s 10))
                                  #(bbssh/ssh c/host (bare-opts {:user-info (stuck-user-info asked)})))]
      (println (format "FIGURE LoginGraceTime %d s: the connect failed after %.2f s: %s" grace-s secs (:message r)))
      (is (realized? asked) "the question was asked")
      (is (not= :hung r) "the connect ended when the server hung up")
      (is (#{:bbssh/connect-failed :bbssh/auth-failed} (-> r :data :type)) (str "typed error: " r))
      (is (re-find #"(?i)server closed|hung up|closed the connection" (str (:message r))) "the error says the server hung up")
      (is (< secs (+ grace-s 3)) (str "within LoginGraceTime + 3 s, took " secs " s"))))
  (testing "the pod still serves"
    (let [s (bbssh/ssh c/host (c/opts))]
      (is (= "ok\n" (:out @(bbssh/exec s "echo ok" {:out :string})))))))

(c/run-tests-and-exit 'e2e.faults.callbacks)
