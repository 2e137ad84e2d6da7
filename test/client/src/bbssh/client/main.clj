(ns bbssh.client.main
  "Runs a Clojure script like `bb script.clj args...` (or `bb -e expr`), with
  `babashka.pods` available, then unloads the pods and exits."
  (:require [babashka.pods :as pods]
            [clojure.edn :as edn]
            [clojure.java.io :as io]
            [clojure.repl]
            [clojure.string :as str]))

(def ^:private usage
  "Usage: pbb script.clj [args...]\n       pbb -e '<expr>' [args...]")

(defn- user-ns
  "The `user` namespace with babashka's default aliases."
  []
  (binding [*ns* (create-ns 'user)]
    (refer-clojure)
    ;; as in babashka, (doc f) works in scripts
    (refer 'clojure.repl :only '[doc])
    (doseq [[a lib] '{str clojure.string set clojure.set io clojure.java.io
                      edn clojure.edn shell clojure.java.shell}]
      (require lib)
      (alias a lib))
    *ns*))

(defn- root-cause
  "Strips the compiler's wrapping so the script's own exception is reported."
  [^Throwable t]
  (if (and (instance? clojure.lang.Compiler$CompilerException t) (ex-cause t))
    (recur (ex-cause t))
    t))

(defn- report!
  "Prints an uncaught exception to stderr, in the vein of babashka."
  [^Throwable t]
  (let [c (root-cause t)
        loc (ex-data t)]
    (binding [*out* *err*]
      (println "----- Error --------------------------------------------------------------------")
      (println "Type:    " (.getName (class c)))
      (println "Message: " (ex-message c))
      (when-let [d (ex-data c)] (println "Data:    " (pr-str d)))
      (when-let [src (:clojure.error/source loc)]
        (println "Location:" (str src ":" (:clojure.error/line loc) ":"
                                  (:clojure.error/column loc))))
      (flush))))

(defn- load-bb-edn-pods!
  "Loads the pods that bb.edn in the working directory lists under
  `:pods`, as babashka does at startup: `{org/name {:path \"./pod\"}}`, the
  path relative to bb.edn. Their namespaces can then be required without a
  `load-pod`. Registry pods (`:version`) are not supported here."
  []
  (let [f (io/file (System/getProperty "user.dir") "bb.edn")]
    (when (.isFile f)
      (let [config (edn/read-string (slurp f))]
        (doseq [[pod-name coord] (:pods config)]
          (let [path (:path coord)]
            (when-not path
              (throw (ex-info (str "pbb: bb.edn pod " pod-name " needs :path (registry :version pods are not supported)")
                              {:pod pod-name :coord coord})))
            (pods/load-pod (str (.getCanonicalFile (io/file (.getParentFile (.getAbsoluteFile f)) ^String path))))))))))

(defn- run [mode x args]
  (binding [*ns* (user-ns)
            *command-line-args* (seq args)]
    (load-bb-edn-pods!)
    (case mode
      :eval (let [v (load-string x)]
              (when (some? v) (prn v)))
      :file (do (System/setProperty "babashka.file" (.getCanonicalPath (io/file x)))
                (load-file x)))))

(defn -main
  "Entry point: `script.clj args...` or `-e expr args...`."
  [& [x & more :as argv]]
  (let [[mode target args] (cond (= "-e" x) [:eval (first more) (rest more)]
                                 (and x (not (str/starts-with? x "-"))) [:file x more])]
    (when-not (and mode target)
      (binding [*out* *err*] (println usage))
      (System/exit 2))
    (let [status (try (run mode target args) 0
                      (catch Throwable t (report! t) 1))]
      (flush)
      (pods/unload-all)
      (System/exit status))))
