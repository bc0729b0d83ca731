{{/* Resources whose objects carry images (protocols.md §6.4/§6.5). */}}
{{- define "pushgate.webhookRules" -}}
- operations: ["CREATE", "UPDATE"]
  apiGroups: [""]
  apiVersions: ["v1"]
  resources: ["pods", "pods/ephemeralcontainers"{{ if .Values.admission.workloads }}, "replicationcontrollers", "podtemplates"{{ end }}]
  scope: Namespaced
{{- if .Values.admission.workloads }}
- operations: ["CREATE", "UPDATE"]
  apiGroups: ["apps"]
  apiVersions: ["v1"]
  resources: ["deployments", "statefulsets", "daemonsets", "replicasets"]
  scope: Namespaced
- operations: ["CREATE", "UPDATE"]
  apiGroups: ["batch"]
  apiVersions: ["v1"]
  resources: ["jobs", "cronjobs"]
  scope: Namespaced
{{- end }}
{{- end -}}

{{/* Never kube-system nor pushgate's own namespace: a webhook that is down must not stop itself or the
     control plane from starting (deadlock avoidance, protocols.md §6.4). */}}
{{- define "pushgate.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      - kube-system
      - {{ .Release.Namespace }}
      {{- range .Values.admission.excludeNamespaces }}
      - {{ . }}
      {{- end }}
  {{- with .Values.admission.namespaceSelectorExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "pushgate.matchConditions" -}}
- name: not-pushgate-itself
  expression: {{ printf "request.userInfo.username != 'system:serviceaccount:%s:%s'" .Release.Namespace (include "pushgate.serviceAccountName" .) | quote }}
{{- end -}}
