#!/usr/bin/env bash
# Writes an order-sign request with N ServiceRequests (default 100, about 200 KB): the large-body
# scenario. Plain bash, so the bench needs nothing beyond the project's own packages.
set -euo pipefail
n=${1:-100}
codes=(E0250 E0424 72148 99213 G0180 70553 81162 E0431)
printf '{"hook":"order-sign","hookInstance":"5b3c2f0e-8a7d-4d6e-9a1b-%012d","context":{"userId":"Practitioner/pra1234","patientId":"pat015","encounterId":"enc-1","draftOrders":{"resourceType":"Bundle","type":"collection","entry":[' "$n"
for ((i = 0; i < n; i++)); do
    code=${codes[$((i % ${#codes[@]}))]}
    [ "$i" -gt 0 ] && printf ','
    printf '{"resource":{"resourceType":"ServiceRequest","id":"sr-%d","meta":{"profile":["http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-servicerequest"]},"text":{"status":"generated","div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">Order %d for the patient, with enough narrative to resemble what EHRs send: indication, history, instructions to the performing department, and the ordering clinician contact details for questions about this order.</div>"},"status":"draft","intent":"order","category":[{"coding":[{"system":"http://snomed.info/sct","code":"387713003","display":"Surgical procedure"}]}],"code":{"coding":[{"system":"https://bluebutton.cms.gov/resources/codesystem/hcpcs","code":"%s","display":"Ordered item %d"}],"text":"Ordered item %d"},"subject":{"reference":"Patient/pat015"},"encounter":{"reference":"Encounter/enc-1"},"occurrenceDateTime":"2026-12-01","authoredOn":"2026-11-20","requester":{"reference":"Practitioner/pra1234","display":"Jane Doe, MD"},"performer":[{"reference":"Organization/org-perf-%d"}],"reasonCode":[{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"J44.9","display":"Chronic obstructive pulmonary disease, unspecified"}]}],"insurance":[{"reference":"Coverage/cov015"}],"note":[{"text":"Please schedule at the earliest available slot; patient prefers mornings. Contact the ordering office with any questions."},{"text":"Clinical summary: symptoms for six weeks despite conservative treatment; prior imaging inconclusive; allergies reviewed (none known); renal function normal at last draw; patient counselled on the procedure, its risks and alternatives, and consents to proceed."}],"patientInstruction":"Bring your insurance card, a photo ID and a list of current medications. Do not eat for six hours before the appointment unless told otherwise by the department."}}' \
        "$i" "$i" "$code" "$i" "$i" "$((i % 7))"
done
printf ']}},"prefetch":{"coverage":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov015","status":"active","beneficiary":{"reference":"Patient/pat015"},"payor":[{"reference":"Organization/org1234"}]}}]}}}\n'
