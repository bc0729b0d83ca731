{{/* Name of the chart, overridable. */}}
{{- define "pushgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified name: release-chart, or the release name when it already contains the chart name. */}}
{{- define "pushgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pushgate.labels" -}}
app.kubernetes.io/name: {{ include "pushgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pushgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pushgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pushgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pushgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pushgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Secret whose keys become environment variables. */}}
{{- define "pushgate.envSecretName" -}}
{{- default (include "pushgate.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Secret holding the admission listener's certificate. */}}
{{- define "pushgate.tlsSecretName" -}}
{{- if eq .Values.admission.tls.mode "secret" -}}
{{- required "admission.tls.secretName is required with admission.tls.mode=secret" .Values.admission.tls.secretName -}}
{{- else -}}
{{- printf "%s-admission-tls" (include "pushgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* DNS name of the Service, as the API server calls it. */}}
{{- define "pushgate.serviceHost" -}}
{{- printf "%s.%s.svc" (include "pushgate.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Replicas, checked against the store: SQLite has one writer. */}}
{{- define "pushgate.replicas" -}}
{{- if and (eq .Values.store.type "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs store.type=postgres: the SQLite store is a single-writer file on one PersistentVolumeClaim" -}}
{{- end -}}
{{- .Values.replicaCount -}}
{{- end -}}

{{/* Secret holding the CA the API server's client certificate must chain to (key ca.crt). */}}
{{- define "pushgate.clientCASecretName" -}}
{{- if eq .Values.admission.clientAuth.mode "secret" -}}
{{- required "admission.clientAuth.secretName is required with admission.clientAuth.mode=secret" .Values.admission.clientAuth.secretName -}}
{{- else -}}
{{- printf "%s-admission-client" (include "pushgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* CN of the client certificate the chart generates for the API server. */}}
{{- define "pushgate.apiserverClientCN" -}}
{{- printf "%s-kube-apiserver" (include "pushgate.fullname" .) -}}
{{- end -}}

{{/* Name of the API server's kubeconfig user entry for this webhook: the Service DNS name, with the
     port when it is not 443 (kubernetes docs, "Authenticate API servers"). */}}
{{- define "pushgate.webhookUserName" -}}
{{- if eq (int .Values.service.admissionPort) 443 -}}
{{- include "pushgate.serviceHost" . -}}
{{- else -}}
{{- printf "%s:%d" (include "pushgate.serviceHost" .) (int .Values.service.admissionPort) -}}
{{- end -}}
{{- end -}}
