{{/* The chart's name, or nameOverride: the app.kubernetes.io/name label. */}}
{{- define "nim.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of everything the release makes: fullnameOverride when set; otherwise the release name
when it already holds the chart name (or nameOverride), else "<release>-<name>". Cut to 63.
*/}}
{{- define "nim.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The metrics Service: a DNS label, so the full name is cut to leave room for "-metrics". */}}
{{- define "nim.metricsServiceName" -}}
{{- printf "%s-metrics" (include "nim.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "nim.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nim.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nim.labels" -}}
{{ include "nim.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "nim.annotations" -}}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "nim.serviceAccountName" -}}
{{- default (include "nim.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "nim.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret the metrics-proxy serves: the user's, else one the chart or OpenShift's service CA makes. */}}
{{- define "nim.metricsTLSSecretName" -}}
{{- .Values.metrics.tls.secretName | default (printf "%s-metrics-tls" (include "nim.fullname" .)) -}}
{{- end }}

{{/* OpenShift, whose service CA writes a serving certificate for an annotated Service. */}}
{{- define "nim.openshift" -}}
{{- if .Capabilities.APIVersions.Has "config.openshift.io/v1" }}true{{ end -}}
{{- end }}
