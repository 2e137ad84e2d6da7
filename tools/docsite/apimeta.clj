;; Prints the metadata of every var the bbssh pod gives babashka, as EDN,
;; for the API reference: what (doc ...) shows. Run through babashka:
;;   bb tools/docsite/apimeta.clj path/to/bbssh
(require '[babashka.pods :as pods]
         '[clojure.string :as str])

(pods/load-pod (first *command-line-args*))

(defn internal? [ns-sym]
  (str/starts-with? (str ns-sym) "pod.epiccastle.bbssh.pod."))

(def first-ones
  '[pod.epiccastle.bbssh.core pod.epiccastle.bbssh.session pod.epiccastle.bbssh.scp
    pod.epiccastle.bbssh.sftp pod.epiccastle.bbssh.user-info])

(def public
  "The client namespaces scripts use: the main ones first, then the rest
  by name (implementation namespaces left out)."
  (let [all (->> (all-ns) (map ns-name)
                 (filter #(str/starts-with? (str %) "pod.epiccastle.bbssh."))
                 (remove internal?)
                 (remove #(str/includes? (str %) ".impl.")))]
    (concat (filter (set all) first-ones) (sort (remove (set first-ones) all)))))

(defn describe-ns [ns-sym]
  (let [ns (the-ns ns-sym)]
    {:ns (str ns-sym)
     :doc (or (:doc (meta ns)) "")
     :internal (internal? ns-sym)
     :vars (vec (for [[sym v] (sort-by key (ns-publics ns))
                      :let [m (meta v)]
                      :when (and (fn? @v)
                                 (not (str/starts-with? (name sym) "->"))
                                 (not (str/starts-with? (name sym) "map->")))]
                  {:name (str sym)
                   :arglists (mapv pr-str (:arglists m))
                   :doc (or (:doc m) "")}))}))

(prn (mapv describe-ns (concat public (sort (filter internal? (map ns-name (all-ns)))))))
