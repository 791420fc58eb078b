// JSON-schema validation of Kubernetes documents against the API's
// OpenAPI schemas, as compiled into the kubernetes-models package (the
// same check kubeconform does, offline). Input: a JSON array of documents
// (check_manifests.py writes it). Prints one line per invalid document and
// exits 1 if any is invalid or of a kind it has no schema for.
"use strict";
const fs = require("fs");

const docs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let bad = 0;
for (const d of docs) {
	const name = `${d.kind} ${d.metadata && d.metadata.name}`;
	// "apps/v1" -> apps/v1, "v1" -> v1, "policy/v1" -> policy/v1
	let mod;
	try {
		mod = require(`kubernetes-models/${d.apiVersion}/${d.kind}`);
	} catch (e) {
		console.log(`${name}: no schema for ${d.apiVersion} ${d.kind}`);
		bad++;
		continue;
	}
	try {
		new mod[d.kind](d).validate();
	} catch (e) {
		console.log(`${name}: ${e.message}`);
		bad++;
	}
}
console.log(`schema-validated ${docs.length - bad} of ${docs.length} documents`);
process.exit(bad ? 1 : 0);
