;; Self test of the pod client, run as a script: pbb selftest.clj /path/to/testpod
;; Run it in an empty working directory (selftest.sh does): it checks port files there.
(ns selftest
  (:require [babashka.pods :as pods]
            [clojure.java.io :as io]
            [clojure.java.shell :as shell]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing run-tests]]))

(def testpod (or (first *command-line-args*)
                 (throw (ex-info "usage: pbb selftest.clj /path/to/testpod" {}))))
(def pbb (str (io/file (.getParentFile (io/file *file*)) "pbb")))

(defn port-files [dir]
  (filter #(re-matches #"\.babashka-pod-\d+\.port" %) (.list (io/file dir))))

(defmacro within
  "Evaluates body in a future; its value, or ::timeout after ms."
  [ms & body]
  `(deref (future ~@body) ~ms ::timeout))

(defn exercise-pod
  "Checks everything a loaded test pod offers."
  [pod]
  (require 'pod.test.core)
  (testing "code var defining a client side fn"
    (is (= 42 ((resolve 'pod.test.core/twice) 21))))
  (testing "sync invoke through a var and through pods/invoke"
    (is (= 6 ((resolve 'pod.test.core/add) 1 2 3)))
    (is (= 3 (pods/invoke pod 'pod.test.core/add [1 2])))
    (is (= 3 (pods/invoke "pod.test.core" 'pod.test.core/add [1 2]))))
  (testing "error reply becomes ex-info with ex-data"
    (let [e (try ((resolve 'pod.test.core/fail) :x) nil (catch clojure.lang.ExceptionInfo e e))]
      (is (= "boom" (ex-message e)))
      (is (= {:type :test/boom :args [:x]} (ex-data e)))))
  (testing "reader tags from describe"
    (is (= {:x 1 :y 2} ((resolve 'pod.test.core/point)))))
  (testing "meta"
    (is (= "Adds numbers." (:doc (meta (resolve 'pod.test.core/add)))))
    (is (= '([& xs]) (:arglists (meta (resolve 'pod.test.core/add)))))
    (is (= "Doubles x using the pod." (:doc (meta (resolve 'pod.test.core/twice)))))))

(deftest stdio-transport
  (let [pod (pods/load-pod testpod)]
    (is (= {:pod/id "pod.test.core"} pod))
    (exercise-pod pod)
    (testing "invoke with handlers: 3 values then done"
      (is (= {:values [{:i 1} {:i 2} {:i 3}]}
             (deref ((resolve 'pod.test.core/collect) 3) 5000 ::timeout))))
    (testing "handlers: error, and nil return"
      (let [p (promise)]
        (is (nil? (pods/invoke pod 'pod.test.core/fail [1]
                               {:handlers {:success (fn [_] (deliver p :success))
                                           :error (fn [e] (deliver p e))
                                           :done (fn [] (deliver p :done))}})))
        (is (= {:ex-message "boom" :ex-data {:type :test/boom :args [1]}}
               (deref p 5000 ::timeout)))))
    (testing "8 threads invoking concurrently get their own results"
      (let [fs (mapv (fn [i] (future (mapv #((resolve 'pod.test.core/echo) [i %]) (range 20))))
                     (range 8))]
        (is (= (mapv (fn [i] (mapv #(vector i %) (range 20))) (range 8))
               (mapv #(deref % 10000 ::timeout) fs)))))
    (testing "deferred namespace loaded on require (load-ns)"
      (require 'pod.test.lazy)
      (is (= "hello you" ((resolve 'pod.test.lazy/greet) "you")))
      (is (true? @(resolve 'pod.test.lazy/loaded?))))
    (testing "unload-pod removes namespaces; invoking afterwards fails"
      (pods/unload-pod pod)
      (is (nil? (find-ns 'pod.test.core)))
      (is (nil? (find-ns 'pod.test.lazy)))
      (is (thrown-with-msg? Exception #"No pod loaded"
                            (pods/invoke pod 'pod.test.core/add [1]))))))

(deftest socket-transport
  (let [out (java.io.StringWriter.)
        err (java.io.StringWriter.)
        pod (binding [*out* out *err* err]
              (pods/load-pod [testpod] {:transport :socket}))]
    (is (= {:pod/id "pod.test.core"} pod))
    (is (= 1 (count (port-files "."))) "port file exists while loaded")
    (exercise-pod pod)
    (testing "out and err messages go to the *out*/*err* of load-pod"
      (is (= :ok ((resolve 'pod.test.core/chatty))))
      (is (= "hello out\n" (str out)))
      (is (= "hello err\n" (str err))))
    (testing "handlers over socket"
      (is (= {:values [{:i 1} {:i 2} {:i 3}]}
             (deref ((resolve 'pod.test.core/collect) 3) 5000 ::timeout))))
    (pods/unload-pod pod)
    (is (empty? (port-files ".")) "port file gone after unload")
    (is (nil? (find-ns 'pod.test.core)))))

(deftest pod-dies
  (doseq [transport [:stdio :socket]]
    (testing (str "pending invoke fails when the pod exits, " transport)
      (let [pod (pods/load-pod testpod {:transport transport})
            r (within 10000 (try ((resolve 'pod.test.core/crash)) :no-exception
                                 (catch clojure.lang.ExceptionInfo e (ex-message e))))]
        (is (re-find #"closed the connection" (str r)))
        (testing "and later invokes fail at once"
          (is (re-find #"closed the connection"
                       (str (within 5000 (try ((resolve 'pod.test.core/add) 1)
                                              (catch Exception e (ex-message e))))))))
        (pods/unload-pod pod)))))

(deftest load-errors
  (is (thrown-with-msg? Exception #"Cannot start pod"
                        (pods/load-pod "/nonexistent/testpod")))
  (is (thrown-with-msg? Exception #"exited with code 4"
                        (pods/load-pod ["sh" "-c" "exit 4"] {:transport :socket})))
  (is (thrown-with-msg? Exception #"closed before replying to describe"
                        (pods/load-pod ["sh" "-c" "exit 0"]))))

(defn run-pbb [dir & args]
  (apply shell/sh pbb (concat args [:dir dir])))

(deftest runner
  (let [dir (doto (io/file (System/getProperty "java.io.tmpdir")
                           (str "pbb-selftest-" (System/nanoTime)))
              .mkdirs)
        script (fn [name code] (let [f (io/file dir name)] (spit f code) (str f)))]
    (testing "-e prints non-nil results and gets args"
      (is (= {:exit 0 :out "[3 (\"a\" \"b\")]\n"}
             (select-keys (run-pbb dir "-e" "[(+ 1 2) *command-line-args*]" "a" "b") [:exit :out]))))
    (testing "script calling System/exit: status kept, pods unloaded by the shutdown hook"
      (let [s (script "exit.clj"
                      (str "(require '[babashka.pods :as pods])\n"
                           "(pods/load-pod " (pr-str [testpod]) " {:transport :socket})\n"
                           "(require '[pod.test.core :as t])\n"
                           "(println (t/add 40 2) *command-line-args*)\n"
                           "(System/exit 3)\n"))
            r (run-pbb dir s "x" "y")]
        (is (= 3 (:exit r)))
        (is (= "42 (x y)\n" (:out r)))
        (is (empty? (port-files dir)))))
    (testing "uncaught exception: message and data on stderr, exit 1"
      (let [r (run-pbb dir (script "throw.clj" "(throw (ex-info \"kaboom\" {:code 7}))"))]
        (is (= 1 (:exit r)))
        (is (str/includes? (:err r) "kaboom"))
        (is (str/includes? (:err r) "{:code 7}"))))))

(let [{:keys [test pass fail error]} (run-tests 'selftest)]
  (println (str pass " passed, " (+ fail error) " failed"))
  (System/exit (if (and (pos? test) (zero? (+ fail error))) 0 1)))
